/**
 * Every route answers bad input with a 4xx in the one error shape, naming the
 * field, and leaves the database exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { authHeader, call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe('bad input', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;
  const bucket = unique('kb');
  let sourceId: string;

  const counts = async () => {
    const [row] =
      await sql`select (select count(*) from buckets)::int as buckets, (select count(*) from sources)::int as sources, (select count(*) from jobs)::int as jobs`;
    return row;
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 1 });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-bad-'));
    await call(ls.url, 'POST', '/admin/buckets', { name: bucket });
    sourceId = (await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'ok', kind: 'filesystem', filesystem: { path: dir } })).body.sourceId;
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const validSource = () => ({ name: unique('s'), kind: 'filesystem', filesystem: { path: dir } });

  const cases: { name: string; method: string; path: () => string; body?: unknown | (() => unknown); status: number; field: string }[] = [
    { name: 'malformed JSON', method: 'POST', path: () => '/admin/buckets', body: '{"name": ', status: 400, field: 'body' },
    { name: 'bucket name missing', method: 'POST', path: () => '/admin/buckets', body: {}, status: 400, field: 'name' },
    { name: 'bucket name with capitals', method: 'POST', path: () => '/admin/buckets', body: { name: 'Bad_Name' }, status: 400, field: 'name' },
    { name: 'bucket name reserved for the API', method: 'POST', path: () => '/admin/buckets', body: { name: 'admin' }, status: 400, field: 'name' },
    { name: 'bucket name reserved for DataInsider’s routes', method: 'POST', path: () => '/admin/buckets', body: { name: 'api' }, status: 400, field: 'name' },
    { name: 'bucket name reserved for Mixpeek’s routes', method: 'POST', path: () => '/admin/buckets', body: { name: 'v1' }, status: 400, field: 'name' },
    { name: 'bucket body not an object', method: 'POST', path: () => '/admin/buckets', body: '[1,2]', status: 400, field: 'body' },
    { name: 'unknown bucket field', method: 'POST', path: () => '/admin/buckets', body: { name: 'fine-name', owner: 'x' }, status: 400, field: 'owner' },
    { name: 'duplicate bucket', method: 'POST', path: () => '/admin/buckets', body: { name: bucket }, status: 409, field: 'name' },
    { name: 'bad page_size', method: 'GET', path: () => '/admin/buckets?page_size=5000', status: 400, field: 'page_size' },
    {
      name: 'tampered page token',
      method: 'GET',
      path: () => '/admin/buckets?page_token=eyJzIjoiYnVja2V0cyIsImEiOiJ6In0.AAAAAAAAAAAAAAAAAAAAAA',
      status: 400,
      field: 'page_token',
    },
    {
      name: 'unknown source kind',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), kind: 'ftp' }),
      status: 400,
      field: 'kind',
    },
    {
      name: 'relative filesystem path',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), filesystem: { path: 'data/in' } }),
      status: 400,
      field: 'filesystem.path',
    },
    {
      name: 'missing directory',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), filesystem: { path: join(dir, 'nope') } }),
      status: 400,
      field: 'filesystem.path',
    },
    {
      name: 'interval too short',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), syncIntervalSeconds: 1 }),
      status: 400,
      field: 'syncIntervalSeconds',
    },
    {
      name: 'batch size zero',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), batchSize: 0 }),
      status: 400,
      field: 'batchSize',
    },
    {
      name: 'batch size a string',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), batchSize: '10' }),
      status: 400,
      field: 'batchSize',
    },
    {
      name: 'target prefix escaping',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), targetPrefix: '../up' }),
      status: 400,
      field: 'targetPrefix',
    },
    {
      name: 'invalid include glob',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), fileFilters: { includePatterns: ['*.md', '[abc'] } }),
      status: 400,
      field: 'fileFilters.includePatterns.1',
    },
    {
      name: 'invalid MIME type filter',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), fileFilters: { mimeTypes: ['pdf'] } }),
      status: 400,
      field: 'fileFilters.mimeTypes.0',
    },
    {
      name: 'maxDeletes over 100%',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), reconcile: { maxDeletes: '150%' } }),
      status: 400,
      field: 'reconcile.maxDeletes',
    },
    {
      name: 'unknown filter field',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), fileFilters: { include: ['*'] } }),
      status: 400,
      field: 'fileFilters.include',
    },
    {
      name: 'PATCH with an invalid glob',
      method: 'PATCH',
      path: () => `/${bucket}/sources/${sourceId}`,
      body: { fileFilters: { excludePatterns: ['{a,b'] } },
      status: 400,
      field: 'fileFilters.excludePatterns.0',
    },
    {
      name: 'PATCH of one credential alone',
      method: 'PATCH',
      path: () => `/${bucket}/sources/${sourceId}`,
      body: { s3: { accessKeyId: 'x' } },
      status: 400,
      field: 's3.secretAccessKey',
    },
    {
      name: 'dead letters with a bad page size',
      method: 'GET',
      path: () => `/${bucket}/sources/${sourceId}/dead-letters?page_size=-1`,
      status: 400,
      field: 'page_size',
    },
    {
      name: 's3 without credentials',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: { name: 'x', kind: 's3', s3: { bucket: 'some-bucket' } },
      status: 400,
      field: 's3.accessKeyId',
    },
    {
      name: 's3 invalid bucket',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: { name: 'x', kind: 's3', s3: { bucket: 'A', accessKeyId: 'a', secretAccessKey: 'b' } },
      status: 400,
      field: 's3.bucket',
    },
    { name: 'source in unknown bucket', method: 'POST', path: () => '/no-such-bucket/sources', body: () => validSource(), status: 404, field: '' },
    {
      name: 'duplicate source name',
      method: 'POST',
      path: () => `/${bucket}/sources`,
      body: () => ({ ...validSource(), name: 'ok' }),
      status: 409,
      field: 'name',
    },
    { name: 'unknown source', method: 'GET', path: () => `/${bucket}/sources/src_nope`, status: 404, field: '' },
    {
      name: 'discover fullSync not boolean',
      method: 'POST',
      path: () => `/${bucket}/sources/${sourceId}/discover`,
      body: { fullSync: 'yes' },
      status: 400,
      field: 'fullSync',
    },
    {
      name: 'discover bucket mismatch',
      method: 'POST',
      path: () => `/${bucket}/sources/${sourceId}/discover`,
      body: { bucket: 'other' },
      status: 400,
      field: 'bucket',
    },
    {
      name: 'discover unknown field',
      method: 'POST',
      path: () => `/${bucket}/sources/${sourceId}/discover`,
      body: { full_sync: true },
      status: 400,
      field: 'full_sync',
    },
    { name: 'discover unknown source', method: 'POST', path: () => `/${bucket}/sources/src_nope/discover`, body: {}, status: 404, field: '' },
    {
      name: 'ingest retryFailed not boolean',
      method: 'POST',
      path: () => `/${bucket}/sources/${sourceId}/ingest`,
      body: { retryFailed: 1 },
      status: 400,
      field: 'retryFailed',
    },
    {
      name: 'ingest sourceId mismatch',
      method: 'POST',
      path: () => `/${bucket}/sources/${sourceId}/ingest`,
      body: { sourceId: 'src_other' },
      status: 400,
      field: 'sourceId',
    },
    { name: 'sync of unknown source', method: 'GET', path: () => `/${bucket}/sources/src_nope/sync`, status: 404, field: '' },
    { name: 'jobs with a bad status', method: 'GET', path: () => `/${bucket}/jobs?status=DONE`, status: 400, field: 'status' },
    { name: 'unknown route', method: 'GET', path: () => '/admin/nothing/here', status: 404, field: '' },
  ];

  it('a body that is not JSON → 415', async () => {
    const before = await counts();
    const res = await fetch(`${ls.url}/admin/buckets`, { method: 'POST', headers: { ...authHeader(ls.url), 'content-type': 'text/plain' }, body: 'name=abc' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { details: unknown }).details).toEqual([{ field: 'body', problem: 'must be sent as application/json' }]);
    expect(await counts()).toEqual(before);
  });

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const before = await counts();
      const res = await call(ls.url, c.method, c.path(), typeof c.body === 'function' ? (c.body as () => unknown)() : c.body);
      expect(res.status).toBe(c.status);
      expect(Object.keys(res.body).sort()).toEqual(['code', 'details', 'message']);
      expect(res.body.message.length).toBeGreaterThan(5);
      if (c.field) {
        expect(res.body.details.map((d: { field: string }) => d.field)).toContain(c.field);
        expect(res.body.message).toContain(c.field);
      }
      expect(await counts()).toEqual(before);
    });
  }
});
