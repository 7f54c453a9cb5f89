/**
 * What the README's API section promises about request semantics, each
 * checked by its effect: PATCH's optional-update rules ("" and 0 are set, null
 * clears a filter bound), web-search syntax, conditional reads by date and
 * ETag, `page_size=0` meaning 50, and bearer tokens kept out of request logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { authHeader, call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe('API semantics the README promises', () => {
  let ls: TestLakesync;
  let logs = '';
  const dirs: string[] = [];
  const enc = encodeURIComponent;

  const newBucket = async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    return bucket;
  };
  const put = async (bucket: string, key: string, body: string) => {
    const res = await fetch(`${ls.url}/${bucket}/${key}`, { method: 'PUT', body, headers: { ...authHeader(ls.url), 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    return res;
  };
  const listKeys = async (bucket: string) => (await call(ls.url, 'GET', `/${bucket}/objects`)).body.objects.map((o: { key: string }) => o.key);

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) });
    // A plain pino logger: whatever keeps tokens out of the lines is the API's own doing.
    ls = await startTestLakesync({ lake: 'filesystem', log: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('PATCH sets a present "" or 0, clears a filter bound given null, and leaves absent fields alone', async () => {
    const bucket = await newBucket();
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-patch-'));
    dirs.push(dir);
    await writeFile(join(dir, 'tiny.txt'), 'hi'); // 2 bytes: only passes once minSizeBytes is 0
    await writeFile(join(dir, 'big.txt'), 'b'.repeat(200)); // only passes once maxSizeBytes is cleared
    await writeFile(join(dir, 'copy.txt'), 'b'.repeat(200)); // a duplicate: kept only once skipDuplicates is false
    await writeFile(join(dir, 'skip.bin'), 'x'.repeat(50)); // never passes: includePatterns is left alone
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'patched',
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      targetPrefix: 'in/',
      skipDuplicates: true,
      fileFilters: { includePatterns: ['*.txt'], minSizeBytes: 10, maxSizeBytes: 100, modifiedAfter: '2100-01-01T00:00:00Z' },
      reconcile: { maxDeletes: 5 },
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;

    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, {
      targetPrefix: '',
      skipDuplicates: false,
      fileFilters: { minSizeBytes: 0, maxSizeBytes: null, modifiedAfter: null },
      reconcile: { maxDeletes: 0 },
    });
    expect(patched.status).toBe(200);
    const expected = {
      targetPrefix: '',
      skipDuplicates: false,
      fileFilters: { includePatterns: ['*.txt'], minSizeBytes: 0 },
      reconcile: { maxDeletes: 0 },
      syncIntervalSeconds: 3600,
    };
    expect(patched.body).toMatchObject(expected);
    expect(patched.body.fileFilters).toEqual(expected.fileFilters);
    const got = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`);
    expect(got.body).toMatchObject(expected);
    expect(got.body.fileFilters).toEqual(expected.fileFilters);

    // The next run uses the new settings: at the bucket's root, the small file and both large ones, no .bin.
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const done = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(done.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsSkipped: 0 });
    expect(await listKeys(bucket)).toEqual(['big.txt', 'copy.txt', 'tiny.txt']);

    // maxDeletes 0 is a limit of zero, not "no limit": a sweep that would delete anything is refused.
    await unlink(join(dir, 'tiny.txt'));
    const sweep = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const refused = await waitForJob(ls.url, bucket, sourceId, sweep.body.jobId);
    expect(refused.job.status).toBe('JOB_STATUS_FAILED');
    expect(refused.job.error).toContain('maxDeletes=0');
    expect(await listKeys(bucket)).toEqual(['big.txt', 'copy.txt', 'tiny.txt']);

    // A present empty list clears; a present list replaces.
    const cleared = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { fileFilters: { includePatterns: [], excludePatterns: ['*.bin'] } });
    expect(cleared.body.fileFilters).toEqual({ minSizeBytes: 0, excludePatterns: ['*.bin'] });
  });

  it('search takes "quoted phrases", -exclusions and or', async () => {
    const bucket = await newBucket();
    const pipe = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
    expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [pipe.body.pipelineId] })).status).toBe(201);
    const corpus: Record<string, string> = {
      'a.txt': 'Durable workflows survive every crash.',
      'b.txt': 'The workflow engine is durable and fast.',
      'c.txt': 'Durable workflows need kafka for their events.',
      'd.txt': 'Kafka streams carry events.',
      'e.txt': 'Zebra crossings are striped.',
    };
    for (const [key, text] of Object.entries(corpus)) await put(bucket, key, text);
    for (const key of Object.keys(corpus))
      await waitFor(`${key} indexed`, async () => (await call(ls.url, 'GET', `/${bucket}/objects/${enc(key)}/info`)).body.indexed === true);

    const hits = async (query: string) => {
      const res = await call(ls.url, 'POST', `/${bucket}/search`, { query });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.results as { key: string }[]).map((r) => r.key).sort();
    };
    expect(await hits('durable workflows')).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(await hits('"durable workflows"')).toEqual(['a.txt', 'c.txt']);
    expect(await hits('"durable workflows" -kafka')).toEqual(['a.txt']);
    expect(await hits('durable -kafka')).toEqual(['a.txt', 'b.txt']);
    expect(await hits('kafka or zebra')).toEqual(['c.txt', 'd.txt', 'e.txt']);
    expect(await hits('kafka zebra')).toEqual([]);
    expect(await hits('"workflow engine" or zebra')).toEqual(['b.txt', 'e.txt']);
  });

  it('answers conditional reads by date and ETag with 304 / 412 as S3 does, on GET and HEAD', async () => {
    const bucket = await newBucket();
    const etag = (await put(bucket, 'cond/x.txt', 'conditional')).headers.get('etag')!;
    const first = await fetch(`${ls.url}/${bucket}/cond/x.txt`, { headers: authHeader(ls.url) });
    expect(first.status).toBe(200);
    const lastModified = first.headers.get('last-modified')!;
    const second = (d: string, by: number) => new Date(Date.parse(d) + by * 1000).toUTCString();
    const before = second(lastModified, -1);
    const after = second(lastModified, 3600);

    const cases: [Record<string, string>, number][] = [
      [{ 'if-modified-since': lastModified }, 304],
      [{ 'if-modified-since': after }, 304],
      [{ 'if-modified-since': before }, 200],
      [{ 'if-modified-since': 'not a date' }, 200], // an invalid date is ignored
      [{ 'if-unmodified-since': lastModified }, 200],
      [{ 'if-unmodified-since': after }, 200],
      [{ 'if-unmodified-since': before }, 412],
      // S3: If-Match true and If-Unmodified-Since false → 200; If-None-Match false and If-Modified-Since true → 304.
      [{ 'if-match': etag, 'if-unmodified-since': before }, 200],
      [{ 'if-none-match': etag, 'if-modified-since': before }, 304],
      [{ 'if-match': '"nope"', 'if-unmodified-since': after }, 412],
      // ETag forms: a list, a weak tag, the wildcard.
      [{ 'if-none-match': `"other", ${etag}` }, 304],
      [{ 'if-none-match': `W/${etag}` }, 304],
      [{ 'if-none-match': '"other"' }, 200],
      [{ 'if-none-match': '*' }, 304],
      [{ 'if-match': '*' }, 200],
      [{ 'if-match': `"other", ${etag}` }, 200],
      [{ 'if-match': '"other"' }, 412],
    ];
    for (const method of ['GET', 'HEAD']) {
      for (const [headers, status] of cases) {
        const res = await fetch(`${ls.url}/${bucket}/cond/x.txt`, { method, headers: { ...authHeader(ls.url), ...headers } });
        const body = await res.text();
        expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(status);
        if (status !== 200) expect(res.headers.get('etag'), `${method} ${JSON.stringify(headers)}`).toBe(etag);
        if (status === 200 && method === 'GET') expect(body).toBe('conditional');
        if (status === 304) expect(body).toBe('');
        if (status === 412 && method === 'GET') expect(JSON.parse(body)).toMatchObject({ code: 'PRECONDITION_FAILED' });
      }
    }
  });

  it('page_size 0 (or none) is a page of 50; at most 1000', async () => {
    const bucket = await newBucket();
    for (let i = 0; i < 51; i++)
      expect((await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: `p${String(i).padStart(2, '0')}`, kind: 'fulltext', enabled: false })).status).toBe(
        201,
      );
    for (const query of ['?page_size=0', '']) {
      const page = await call(ls.url, 'GET', `/${bucket}/pipelines${query}`);
      expect(page.status).toBe(200);
      expect(page.body.pipelines).toHaveLength(50);
      expect(page.body.totalCount).toBe(51);
      expect(page.body.nextPageToken).not.toBe('');
      const rest = await call(ls.url, 'GET', `/${bucket}/pipelines?page_size=0&page_token=${enc(page.body.nextPageToken)}`);
      expect(rest.body.pipelines.map((p: { name: string }) => p.name)).toEqual(['p50']);
      expect(rest.body.nextPageToken).toBe('');
    }
    const all = await call(ls.url, 'GET', `/${bucket}/pipelines?page_size=1000`);
    expect(all.body.pipelines).toHaveLength(51);
    expect(all.body.nextPageToken).toBe('');
    const over = await call(ls.url, 'GET', `/${bucket}/pipelines?page_size=1001`);
    expect(over.status).toBe(400);
    expect(over.body.details[0].field).toBe('page_size');
  });

  it('never writes a bearer token into a request log line, valid or not', async () => {
    const token = await ls.token();
    const expired = await ls.token({ expiresIn: '-1m' });
    const forged = await new SignJWT({ org: 'test-org', scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('f'.repeat(43)));
    const marker = unique('logged');
    const requests: [string, string, number][] = [
      [`/admin/buckets?marker=${marker}-ok`, token, 200],
      [`/${marker}-missing/sources`, token, 404],
      [`/admin/buckets?marker=${marker}-expired`, expired, 401],
      [`/admin/buckets?marker=${marker}-forged`, forged, 401],
    ];
    for (const [path, bearer, status] of requests) expect((await fetch(ls.url + path, { headers: { authorization: `Bearer ${bearer}` } })).status).toBe(status);
    // A malformed header (no scheme) is a credential too.
    expect((await fetch(`${ls.url}/admin/buckets?marker=${marker}-bare`, { headers: { authorization: token } })).status).toBe(401);

    const lines = () =>
      logs
        .split('\n')
        .filter((l) => l.includes(marker))
        .map((l) => JSON.parse(l) as { req?: { url: string; headers: Record<string, string> } });
    await waitFor('a request line for each request', async () => lines().length >= 5);
    for (const line of lines()) {
      expect(line.req?.url).toContain(marker);
      expect(line.req?.headers.authorization).toBe('[redacted]');
    }
    for (const secret of [token, expired, forged, ...[token, expired, forged].map((t) => t.split('.')[2]!)])
      expect(logs.includes(secret), 'a log line holds a bearer token').toBe(false);
  });
});
