/**
 * Issue #14, items 4 and 5 (bearer half): the headers given at a byte-plane
 * PUT are stored with the object in both lake kinds (S3 keeps them; for a
 * directory lake the catalog does) and answered by GET, HEAD and ObjectInfo;
 * and the bearer byte plane never creates a key an API route would answer for.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sendWhole } from '../support/raw-http.js';
import { authHeader, call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe.each(['filesystem', 's3'] as const)('object metadata on a %s lake', (lakeKind) => {
  let ls: TestLakesync;
  const bucket = unique('meta');
  const url = (key: string) => `${ls.url}/${bucket}/${key}`;
  const put = (key: string, body: string, headers: Record<string, string> = {}) =>
    fetch(url(key), { method: 'PUT', body, headers: { ...authHeader(ls.url), ...headers } });
  const read = (key: string, method: 'GET' | 'HEAD' = 'GET') => fetch(url(key), { method, headers: authHeader(ls.url) });
  const listed = async (prefix: string) => (await call(ls.url, 'GET', `/${bucket}/objects?prefix=${encodeURIComponent(prefix)}`)).body.objects as unknown[];

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: lakeKind });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => ls?.stop());

  it('stores Content-Type, x-amz-meta-*, cache and disposition headers and answers them on GET, HEAD and ObjectInfo', async () => {
    const expires = new Date(Date.UTC(2031, 0, 2, 3, 4, 5)).toUTCString();
    // A type the key's extension would never suggest: what comes back was stored, not guessed.
    const res = await put('reports/q1.txt', 'quarterly', {
      'content-type': 'application/x-lakesync-report',
      'x-amz-meta-Owner': 'Ada Lovelace',
      'x-amz-meta-project': 'lake',
      'cache-control': 'max-age=60, private',
      'content-disposition': 'attachment; filename="q1.txt"',
      'content-language': 'en-GB',
      expires,
    });
    expect(res.status).toBe(200);

    for (const method of ['GET', 'HEAD'] as const) {
      const got = await read('reports/q1.txt', method);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('application/x-lakesync-report');
      // Metadata names come back lower-cased, as S3 answers them.
      expect(got.headers.get('x-amz-meta-owner')).toBe('Ada Lovelace');
      expect(got.headers.get('x-amz-meta-project')).toBe('lake');
      expect(got.headers.get('cache-control')).toBe('max-age=60, private');
      expect(got.headers.get('content-disposition')).toBe('attachment; filename="q1.txt"');
      expect(got.headers.get('content-language')).toBe('en-GB');
      expect(got.headers.get('expires')).toBe(expires);
      // A stored type is never sniffed into something else, and nothing it renders runs on the API's origin.
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(got.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
      if (method === 'GET') expect(await got.text()).toBe('quarterly');
    }

    const info = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('reports/q1.txt')}/info`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      contentType: 'application/x-lakesync-report',
      cacheControl: 'max-age=60, private',
      contentDisposition: 'attachment; filename="q1.txt"',
      contentLanguage: 'en-GB',
      contentEncoding: null,
      expires,
      userMetadata: { owner: 'Ada Lovelace', project: 'lake' },
    });

    // A later write replaces the metadata whole, as S3 does: nothing of the first write's is left.
    expect((await put('reports/q1.txt', 'revised')).status).toBe(200);
    const again = await read('reports/q1.txt', 'HEAD');
    expect(again.headers.get('x-amz-meta-owner')).toBeNull();
    expect(again.headers.get('cache-control')).toBeNull();
    expect(again.headers.get('content-type')).not.toBe('application/x-lakesync-report');
    const info2 = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('reports/q1.txt')}/info`);
    expect(info2.body).toMatchObject({ cacheControl: null, contentDisposition: null, userMetadata: {} });
  });

  it('refuses user metadata over 2 KB with 400 naming the header that crossed it, and stores nothing', async () => {
    const res = await put('big-meta.txt', 'x', { 'x-amz-meta-a': 'a'.repeat(1000), 'x-amz-meta-b': 'b'.repeat(1100) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; details: { field: string; problem: string }[] };
    expect(body.code).toBe('INVALID_ARGUMENT');
    expect(body.details[0]!.field).toBe('x-amz-meta-b');
    expect(body.details[0]!.problem).toMatch(/over 1987 bytes/);
    expect((await read('big-meta.txt', 'HEAD')).status).toBe(404);
    expect(await listed('big-meta')).toEqual([]);

    // Exactly at the limit (header names count, as MinIO counts them) is stored, in both lake kinds.
    const fits = 1987 - 2 * 'x-amz-meta-a'.length - 1000;
    expect((await put('fits-meta.txt', 'x', { 'x-amz-meta-a': 'a'.repeat(1000), 'x-amz-meta-b': 'b'.repeat(fits) })).status).toBe(200);
    expect((await read('fits-meta.txt', 'HEAD')).headers.get('x-amz-meta-b')).toBe('b'.repeat(fits));
    expect((await put('over-meta.txt', 'x', { 'x-amz-meta-a': 'a'.repeat(1000), 'x-amz-meta-b': 'b'.repeat(fits + 1) })).status).toBe(400);
  });

  it('refuses a control character in a metadata value with 400, and stores nothing', async () => {
    // U+009B (CSI) sent as its UTF-8 bytes, and TAB: HTTP clients let both through, as a hostile client would.
    const csi = Buffer.from('\u009b31m', 'utf8').toString('latin1');
    for (const [header, key, value, problem] of [
      ['x-amz-meta-note', 'ctl-meta.txt', `red${csi}`, /control characters \(U\+009B CSI/],
      ['cache-control', 'ctl-cache.txt', `red${csi}`, /control characters \(U\+009B CSI/],
      ['content-disposition', 'ctl-disposition.txt', 'attachment;\tfilename=x', /control characters \(U\+0009 TAB/],
      // A lone C1 byte is no UTF-8 (it would reach a terminal as CSI all the same): refused as not ASCII.
      ['x-amz-meta-raw', 'ctl-raw.txt', 'red\x9b31m', /must be ASCII/],
    ] as const) {
      const res = await sendWhole(url(key), 'PUT', { ...authHeader(ls.url), [header]: value }, Buffer.from('x'));
      expect(res.status, header).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: header }] });
      expect(res.body.details[0].problem).toMatch(problem);
      expect((await read(key, 'HEAD')).status).toBe(404);
    }
    expect(await listed('ctl-')).toEqual([]);
  });

  it('takes ASCII metadata only, pointing non-ASCII text at the encodings S3 clients use', async () => {
    // fetch sends each character of a header string as one byte: these are the UTF-8 bytes of the text.
    const bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    for (const [header, value, hint] of [
      ['x-amz-meta-author', bytes('Zoë Ø'), 'RFC 2047'],
      ['content-disposition', bytes('attachment; filename="résumé.txt"'), 'filename*'],
    ] as [string, string, string][]) {
      const res = await put('utf8/raw.txt', 'cv', { [header]: value });
      expect(res.status, header).toBe(400);
      expect(((await res.json()) as { details: { field: string; problem: string }[] }).details[0]).toMatchObject({
        field: header,
        problem: expect.stringContaining(hint),
      });
    }
    expect((await read('utf8/raw.txt', 'HEAD')).status).toBe(404);

    const disposition = `attachment; filename*=UTF-8''${encodeURIComponent('résumé €.txt')}`;
    const author = `=?UTF-8?B?${Buffer.from('Zoë Ø').toString('base64')}?=`;
    expect((await put('utf8/cv.txt', 'cv', { 'content-disposition': disposition, 'x-amz-meta-author': author })).status).toBe(200);
    const got = await read('utf8/cv.txt', 'HEAD');
    expect(got.headers.get('content-disposition')).toBe(disposition);
    expect(got.headers.get('x-amz-meta-author')).toBe(author);
  });

  it('refuses a bearer PUT of a key an API route answers for, naming its first segment; nothing is stored and no source is touched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-meta-src-'));
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'kept', kind: 'filesystem', filesystem: { path: dir } });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;

    for (const [key, segment] of [
      ['sources/x', 'sources'],
      [`sources/${sourceId}`, 'sources'],
      ['jobs', 'jobs'],
      ['Jobs', 'Jobs'],
      ['objects/y/info', 'objects'],
      ['objects/y', 'objects'],
      ['uploads/history', 'uploads'],
      ['pipelines/p', 'pipelines'],
      ['rules', 'rules'],
    ] as [string, string][]) {
      const res = await put(key, 'shadowed');
      expect(res.status, key).toBe(400);
      const body = (await res.json()) as { code: string; details: { field: string; problem: string }[] };
      expect(body.code).toBe('INVALID_ARGUMENT');
      expect(body.details[0]!.field).toBe('key');
      expect(body.details[0]!.problem).toContain(`reserved segment '${segment}'`);
    }
    for (const prefix of ['sources', 'jobs', 'Jobs', 'objects', 'uploads', 'pipelines', 'rules']) expect(await listed(prefix), prefix).toEqual([]);

    const after = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ sourceId, name: 'kept', paused: false });
    await rm(dir, { recursive: true, force: true });

    // Keys under those words that every bearer GET, HEAD and DELETE reaches are the byte plane's.
    for (const key of ['jobs/2024/a.txt', 'search', 'sources/x/y.txt', 'objectsx/a']) {
      expect((await put(key, key)).status, key).toBe(200);
      expect(await (await read(key)).text()).toBe(key);
    }
    // Such a key may still reach the lake another way (a source's folder named `sources`): put one there directly.
    if (ls.lake.kind === 'filesystem') {
      await mkdir(join(ls.lake.dir, bucket, 'sources'), { recursive: true });
      await writeFile(join(ls.lake.dir, bucket, 'sources', 'z'), 'seeded');
    } else await minioClient().send(new PutObjectCommand({ Bucket: ls.lake.bucket, Key: `${bucket}/sources/z`, Body: 'seeded' }));
    // A bearer request on its path is the API route's: DELETE answers 404 (no source z) and removes no object; GET is the source route's too.
    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/z`)).status).toBe(404);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/z`)).body.code).toBe('NOT_FOUND');
    expect(Array.isArray((await call(ls.url, 'GET', `/${bucket}/jobs`)).body.jobs)).toBe(true);
    const keys = ((await listed('sources/')) as { key: string }[]).map((o) => o.key);
    expect(keys).toEqual(['sources/x/y.txt', 'sources/z']);
    expect((await read('sources/x/y.txt')).status).toBe(200);
  });

  it('keeps the metadata of an object when a source skips the same content as a duplicate of it', async () => {
    const info = () => call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('dup/original.dat')}/info`);
    expect((await put('dup/original.dat', 'the very same bytes', { 'content-type': 'application/x-original', 'x-amz-meta-owner': 'ada' })).status).toBe(200);
    // Only stored (ingested) content is a duplicate's target: wait for the push source to ingest it.
    await waitFor('the pushed object ingested', async () => (await info()).body.ingestionStatus === 'INGESTED');
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-meta-dup-'));
    await writeFile(join(dir, 'copy.txt'), 'the very same bytes');
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'dups',
      kind: 'filesystem',
      filesystem: { path: dir },
      targetPrefix: 'dup2/',
      skipDuplicates: true,
    });
    expect(created.status).toBe(201);
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const r = await waitForJob(ls.url, bucket, created.body.sourceId, run.body.jobId);
    expect(r.job).toMatchObject({ objectsDiscovered: 1, objectsSkipped: 1 });
    // The duplicate's row now points at the original too, knowing no metadata: the original's stands.
    const head = await read('dup/original.dat', 'HEAD');
    expect(head.headers.get('content-type')).toBe('application/x-original');
    expect(head.headers.get('x-amz-meta-owner')).toBe('ada');
    expect((await info()).body.userMetadata).toEqual({ owner: 'ada' });
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the content type an S3 source gives, whichever copy path ingests it', async () => {
    const s3 = minioClient();
    const { minio } = inject('infra');
    const srcBucket = unique('metasrc');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: 'a.txt', Body: 'from the source', ContentType: 'application/x-from-source' }));
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'typed',
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      targetPrefix: 'typed/',
    });
    expect(created.status).toBe(201);
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const r = await waitForJob(ls.url, bucket, created.body.sourceId, run.body.jobId);
    expect(r.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 1 });
    const got = await read('typed/a.txt');
    expect(await got.text()).toBe('from the source');
    expect(got.headers.get('content-type')).toBe('application/x-from-source');
    const info = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('typed/a.txt')}/info`);
    expect(info.body.contentType).toBe('application/x-from-source');
  });
});
