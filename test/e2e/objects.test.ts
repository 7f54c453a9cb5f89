/**
 * K3's Objects surface on an S3 lake: the byte plane (streamed PUT/GET/HEAD/
 * DELETE with Range and conditional requests), the admin routes (listing with
 * delimiter and continuation, ObjectInfo, delete, signed URLs), and ingestion
 * of what arrives by PUT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import postgres from 'postgres';
import { authHeader, call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

const MiB = 1024 * 1024;
const peakRss = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
/** Linux resets the peak (VmHWM) to the current RSS on this write. */
const resetPeakRss = () => writeFileSync('/proc/self/clear_refs', '5');

/**
 * Sends `path` exactly as written: fetch (and node:http given a URL string)
 * folds `.` and `..` segments before anything is sent, node:http given a
 * path does not.
 */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port: Number(port), method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

describe('objects', () => {
  let ls: TestLakesync;
  const bucket = unique('kb');
  const put = (key: string, body: RequestInit['body'], headers: Record<string, string> = {}, into = bucket) =>
    fetch(`${ls.url}/${into}/${key}`, { method: 'PUT', body, headers: { ...authHeader(ls.url), ...headers }, duplex: 'half' } as RequestInit);
  const get = (key: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(`${ls.url}/${bucket}/${key}`, { method, headers: { ...authHeader(ls.url), ...headers } });
  /** A bucket of the test's own, so what it counts is only what it put. */
  const ownBucket = async () => {
    const name = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name })).status).toBe(201);
    return name;
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 's3' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => ls?.stop());

  it('round-trips PUT, GET, HEAD and DELETE with S3 headers', async () => {
    const body = Buffer.from('hello byte plane');
    const res = await put('docs/hello.txt', body, { 'content-type': 'text/plain' });
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag')!;
    expect(etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);

    const got = await get('docs/hello.txt');
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
    expect(got.headers.get('etag')).toBe(etag);
    expect(got.headers.get('content-type')).toBe('text/plain');
    expect(got.headers.get('content-length')).toBe(String(body.length));
    expect(Date.parse(got.headers.get('last-modified')!)).toBeGreaterThan(Date.now() - 60_000);

    const head = await get('docs/hello.txt', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(body.length));
    expect(await head.text()).toBe('');

    expect((await fetch(`${ls.url}/${bucket}/docs/hello.txt`, { method: 'DELETE', headers: authHeader(ls.url) })).status).toBe(204);
    expect((await get('docs/hello.txt')).status).toBe(404);
  });

  it('serves byte ranges and answers conditional requests as S3 does', async () => {
    const body = randomBytes(10_000);
    const etag = (await put('range/blob.bin', body)).headers.get('etag')!;
    const part = await get('range/blob.bin', { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(100, 200));
    const tail = await get('range/blob.bin', { range: 'bytes=-10' });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(body.subarray(9990));
    expect((await get('range/blob.bin', { range: 'bytes=20000-' })).status).toBe(416);

    expect((await get('range/blob.bin', { 'if-none-match': etag })).status).toBe(304);
    expect((await get('range/blob.bin', { 'if-match': '"nope"' })).status).toBe(412);
    expect((await get('range/blob.bin', { 'if-match': etag })).status).toBe(200);
    expect((await put('range/blob.bin', 'x', { 'if-none-match': '*' })).status).toBe(412);
    expect((await put('range/blob.bin', 'x', { 'if-match': '"stale"' })).status).toBe(412);
    expect((await put('range/new.bin', 'x', { 'if-none-match': '*' })).status).toBe(200);
  });

  it('streams a 256 MiB object up and down through the API, each way with memory growth under half its size', async () => {
    const size = 256 * MiB;
    const chunk = randomBytes(MiB);
    const hash = createHash('sha256');
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent === size / MiB) return this.push(null);
        sent++;
        hash.update(chunk);
        this.push(chunk);
      },
    });
    // This process holds the API, the worker and the client. A buffered body would grow it by the whole object; a
    // streamed one by the garbage V8 lets pile up between collections (tens of MiB, whatever the object's size). The
    // peak is reset between the two ways so each is measured on its own.
    resetPeakRss();
    let before = peakRss();
    // node:http with pipeline: the client itself streams with backpressure.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${ls.url}/${bucket}/big/256.bin`, { method: 'PUT', headers: { ...authHeader(ls.url), 'content-length': String(size) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      pipeline(source, req).catch(reject);
    });
    expect(status).toBe(200);
    expect(peakRss() - before).toBeLessThan(size / 2);

    resetPeakRss();
    before = peakRss();
    const got = await get('big/256.bin');
    const back = createHash('sha256');
    let length = 0;
    for await (const c of got.body as unknown as AsyncIterable<Uint8Array>) {
      back.update(c);
      length += c.length;
    }
    expect(length).toBe(size);
    expect(back.digest('hex')).toBe(hash.digest('hex'));
    expect(peakRss() - before).toBeLessThan(size / 2);
  });

  it('lists with prefix, delimiter and continuation across 2,500 keys', async () => {
    const limit = pLimit(32);
    const keys: string[] = [];
    for (let d = 0; d < 5; d++) for (let i = 0; i < 500; i++) keys.push(`list/d${d}/k${String(i).padStart(4, '0')}.txt`);
    await Promise.all(keys.map((k) => limit(() => put(k, k))));

    const top = await call(ls.url, 'GET', `/${bucket}/objects?prefix=list/&delimiter=/`);
    expect(top.body).toMatchObject({
      objects: [],
      commonPrefixes: ['list/d0/', 'list/d1/', 'list/d2/', 'list/d3/', 'list/d4/'],
      isTruncated: false,
      keyCount: 5,
      nextContinuationToken: '',
    });

    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await call(ls.url, 'GET', `/${bucket}/objects?prefix=list/&max_keys=700${token ? `&continuation_token=${encodeURIComponent(token)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.keyCount).toBe(page.body.objects.length);
      seen.push(...page.body.objects.map((o: { key: string }) => o.key));
      token = page.body.nextContinuationToken;
      expect(page.body.isTruncated).toBe(token !== '');
      pages++;
    } while (token);
    expect(pages).toBe(4);
    expect(seen).toEqual([...keys].sort());

    const mixed = await call(ls.url, 'GET', `/${bucket}/objects?prefix=list/d1/k000&delimiter=/&max_keys=3`);
    expect(mixed.body.objects.map((o: { key: string }) => o.key)).toEqual(['list/d1/k0000.txt', 'list/d1/k0001.txt', 'list/d1/k0002.txt']);
    expect(mixed.body.objects[0]).toMatchObject({ bucket, size: '17', contentType: expect.any(String) });
    expect(mixed.body.isTruncated).toBe(true);

    const bad = await call(ls.url, 'GET', `/${bucket}/objects?prefix=list/&continuation_token=forged.token`);
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('continuation_token');
  });

  it('ingests what arrives by PUT, batching a burst into a few runs, and shows it in ObjectInfo', async () => {
    const burst = await ownBucket();
    const limit = pLimit(32);
    const keys = Array.from({ length: 300 }, (_, i) => `burst/b${i}.txt`);
    await Promise.all(keys.map((k) => limit(async () => expect((await put(k, `burst ${k}`, {}, burst)).status).toBe(200))));
    const info = await waitFor('ingested', async () => {
      const i = await call(ls.url, 'GET', `/${burst}/objects/${encodeURIComponent('burst/b299.txt')}/info`);
      return i.body.ingestionStatus === 'INGESTED' && i.body;
    });
    expect(info).toMatchObject({
      bucket: burst,
      key: 'burst/b299.txt',
      size: String('burst burst/b299.txt'.length),
      indexed: true,
      source: { kind: 'upload', sourceKey: 'burst/b299.txt' },
    });
    expect(info.jobId).toMatch(/^job_/);
    const sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    const state = async () =>
      (
        await sql`select count(*) filter (where status = 'pending')::int as pending, count(*) filter (where ingested_at is not null)::int as ingested from source_objects where source_id = ${info.source.sourceId}`
      )[0]!;
    await waitFor('every PUT ingested', async () => (await state()).pending === 0, 120_000, 250);
    const { ingested } = await state();
    await sql.end();
    expect(ingested).toBe(300);
    const jobs = await call(ls.url, 'GET', `/${burst}/jobs?source_id=${info.source.sourceId}&page_size=1000`);
    // Each arrival was counted exactly once.
    expect(jobs.body.jobs.reduce((n: number, j: { objectsProcessed: number }) => n + j.objectsProcessed, 0)).toBe(ingested);
    // Thousands of PUTs, a handful of coalesced runs.
    expect(jobs.body.totalCount).toBeLessThan(40);
    expect(jobs.body.jobs.every((j: { trigger: string; kind: string }) => j.trigger === 'direct_put' && j.kind === 'ingestion')).toBe(true);
  });

  it('issues signed URLs that work without a token, expire, reject tampering and respect the cap', async () => {
    expect((await put('signed/report.txt', 'signed content')).status).toBe(200);
    const path = `/${bucket}/objects/${encodeURIComponent('signed/report.txt')}/url`;
    /** Asks for a URL and checks it expires exactly `seconds` after the (whole) second it was issued in, as the URL itself says. */
    const issue = async (query: string, seconds: number) => {
      const before = Date.now();
      const res = await call(ls.url, 'GET', path + query);
      const after = Date.now();
      expect(res.status).toBe(200);
      const expiresAt = Number(res.body.expiresAt);
      expect(expiresAt % 1000).toBe(0);
      expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + seconds * 1000);
      expect(expiresAt).toBeLessThanOrEqual(Math.floor(after / 1000) * 1000 + seconds * 1000);
      expect(new URL(res.body.url).searchParams.get('X-Lakesync-Expires')).toBe(String(expiresAt / 1000));
      return res.body as { url: string; expiresAt: string };
    };
    const signed = await issue('?expires_in_seconds=900', 900);
    const open = await fetch(signed.url);
    expect(open.status).toBe(200);
    expect(await open.text()).toBe('signed content');

    const tampered = await fetch(signed.url.replace('report.txt', 'other.txt'));
    expect(tampered.status).toBe(403);
    const stretched = await fetch(signed.url.replace(/X-Lakesync-Expires=(\d+)/, (_m: string, e: string) => `X-Lakesync-Expires=${Number(e) + 1000}`));
    expect(stretched.status).toBe(403);
    const expired = await issue('?expires_in_seconds=1', 1);
    // Valid through its last second, refused once the clock is past it.
    await waitFor('the URL to expire', async () => Date.now() > Number(expired.expiresAt), 5_000, 50);
    const late = await fetch(expired.url);
    expect(late.status).toBe(403);
    expect(((await late.json()) as { details: { problem: string }[] }).details[0]!.problem).toBe('has expired');

    // Past the cap is the cap, exactly; nothing asked is the default, exactly.
    await issue('?expires_in_seconds=999999', 86_400);
    await issue('?expires_in_seconds=86401', 86_400);
    await issue('?expires_in_seconds=86400', 86_400);
    await issue('', 3_600);
    // A signature is for reading only.
    expect((await fetch(signed.url, { method: 'DELETE' })).status).toBe(401);
  });

  it('refuses hostile keys and deletes through the admin path', async () => {
    const hostile = await ownBucket();
    const dots = 'must not contain . or .. segments';
    // Sent raw: the server itself sees the dot segments, and refuses them on every verb.
    for (const [key, problem] of [
      ['a/../b', dots],
      ['./x', dots],
      ['a/./b', dots],
      ['a/..', dots],
      ['x/.', dots],
      ['..', dots],
      ['%2E%2E/x', dots],
      ['a/%2e/b', dots],
      ['a//b', 'must not contain empty segments (//)'],
      ['k'.repeat(1100), 'must be at most 1024 bytes'],
    ] as const) {
      for (const method of ['PUT', 'GET', 'HEAD', 'DELETE']) {
        const res = await rawRequest(ls.url, method, `/${hostile}/${key}`, authHeader(ls.url), method === 'PUT' ? 'x' : '');
        expect({ key, method, status: res.status }).toEqual({ key, method, status: 400 });
        if (method !== 'HEAD') expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: 'key', problem }] });
      }
    }
    // Nothing landed, under the key or where a folded one would point.
    expect((await call(ls.url, 'GET', `/${hostile}/objects`)).body).toMatchObject({ objects: [], keyCount: 0 });
    const absolute = await fetch(`${ls.url}/${bucket}//etc/passwd`, { method: 'PUT', body: 'x', headers: authHeader(ls.url) });
    expect(absolute.status).toBe(400);
    expect(((await absolute.json()) as { details: { field: string; problem: string }[] }).details[0]).toEqual({
      field: 'key',
      problem: 'must not start with /',
    });
    const nul = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('a\u0000b')}/info`);
    expect(nul.status).toBe(400);
    expect(nul.body.details[0]).toMatchObject({ field: 'key', problem: expect.stringMatching(/NUL/) });
    const dotted = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('x/../../etc/passwd')}/info`);
    expect(dotted.status).toBe(400);

    await put('admin/del.txt', 'x');
    expect((await call(ls.url, 'DELETE', `/${bucket}/objects/${encodeURIComponent('admin/del.txt')}`)).status).toBe(200);
    expect((await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('admin/del.txt')}/info`)).status).toBe(404);
    expect((await put('admin/kept.txt', 'kept', {}, hostile)).status).toBe(200);
    const other = await ls.token({ org: 'someone-else' });
    expect((await fetch(`${ls.url}/${hostile}/admin/kept.txt`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    expect((await fetch(`${ls.url}/${hostile}/admin/kept.txt`, { headers: authHeader(ls.url) })).status).toBe(200);
  });
});
