/**
 * The byte plane's edge rules (issue #14): which keys an API route answers
 * for, derived from the route table; and the metadata a PUT's headers give.
 */
import { describe, expect, it } from 'vitest';
import { routeShadowingKey } from '../../api/route-table.js';
import { metadataFromHeaders } from '../../api/object-metadata.js';
import { ApiError } from '../../api/errors.js';

describe('routeShadowingKey', () => {
  it('names the route a bearer GET, HEAD or DELETE of the key reaches instead of the byte plane', () => {
    expect(routeShadowingKey('jobs')).toBe('GET /:bucket/jobs');
    expect(routeShadowingKey('JOBS/')).toBe('GET /:bucket/jobs');
    expect(routeShadowingKey('jobs/j1')).toBe('GET /:bucket/jobs/:jobId');
    expect(routeShadowingKey('sources/x')).toBe('GET /:bucket/sources/:sourceId');
    expect(routeShadowingKey('sources/x/sync')).toBe('GET /:bucket/sources/:sourceId/sync');
    expect(routeShadowingKey('objects/y/info')).toBe('GET /:bucket/objects/:key/info');
    // Only a DELETE route takes this one: a bearer DELETE of it would remove object `y`.
    expect(routeShadowingKey('objects/y')).toBe('DELETE /:bucket/objects/:key');
    expect(routeShadowingKey('uploads/history')).toBe('GET /:bucket/uploads/history');
    expect(routeShadowingKey('pipelines/p')).toBe('GET /:bucket/pipelines/:pipelineId');
    expect(routeShadowingKey('rules')).toBe('GET /:bucket/rules');
  });

  it('leaves the byte plane every key it serves every way', () => {
    for (const key of ['search', 'jobs/2024/a.txt', 'sources/x/y.txt', 'objectsx', 'uploads/u/files', 'docs/jobs', 'a%2Fb', 'admin'])
      expect(routeShadowingKey(key), key).toBeNull();
  });
});

describe('metadataFromHeaders', () => {
  const refusal = (headers: Record<string, string>) => {
    try {
      metadataFromHeaders(headers);
    } catch (err) {
      return (err as ApiError).details[0];
    }
    return null;
  };

  it('takes the stored headers and x-amz-meta-* (names as Node lower-cases them), with Expires as an HTTP date', () => {
    expect(
      metadataFromHeaders({
        'content-type': 'text/csv',
        'cache-control': 'no-cache',
        'content-disposition': 'inline',
        'content-encoding': 'gzip',
        'content-language': 'fr',
        expires: '2031-01-02T03:04:05Z',
        'x-amz-meta-owner': 'ada',
        'x-other': 'ignored',
      }),
    ).toEqual({
      contentType: 'text/csv',
      cacheControl: 'no-cache',
      contentDisposition: 'inline',
      contentEncoding: 'gzip',
      contentLanguage: 'fr',
      expires: 'Thu, 02 Jan 2031 03:04:05 GMT',
      user: { owner: 'ada' },
    });
    expect(metadataFromHeaders({})).toEqual({});
  });

  it('refuses, naming the header: control characters, non-ASCII, a bad date, a reserved or empty name, over 2 KB', () => {
    expect(refusal({ 'x-amz-meta-a': 'x\u001by' })).toMatchObject({ field: 'x-amz-meta-a', problem: expect.stringContaining('U+001B ESC') });
    expect(refusal({ 'cache-control': 'x\u00c2\u009by' })).toMatchObject({ field: 'cache-control', problem: expect.stringContaining('U+009B CSI') });
    expect(refusal({ 'x-amz-meta-a': 'caf\u00c3\u00a9' })).toMatchObject({ field: 'x-amz-meta-a', problem: expect.stringContaining('ASCII') });
    expect(refusal({ expires: 'soon' })).toMatchObject({ field: 'expires', problem: 'must be an HTTP date' });
    expect(refusal({ 'x-amz-meta-lakesync-write': 'w' })).toMatchObject({ field: 'x-amz-meta-lakesync-write' });
    expect(refusal({ 'x-amz-meta-': 'w' })).toMatchObject({ field: 'x-amz-meta-' });
    // 1987 bytes of names (with their prefix) and values fit; one more does not, and the header that crossed the line is named.
    expect(refusal({ 'x-amz-meta-a': 'a'.repeat(1000), 'x-amz-meta-b': 'b'.repeat(1987 - 24 - 1000) })).toBeNull();
    expect(refusal({ 'x-amz-meta-a': 'a'.repeat(1000), 'x-amz-meta-b': 'b'.repeat(1987 - 24 - 999) })).toMatchObject({ field: 'x-amz-meta-b' });
  });
});
