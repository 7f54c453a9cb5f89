/**
 * Hostile streams: multipart bodies that are malformed or break off, clients
 * that stall and vanish mid-upload, downloads dropped halfway. The API runs as
 * its own OS process, so an unhandled stream 'error' would kill it and show
 * here as an exit; after every shape it must still be running and /healthz
 * must answer. Nothing a broken request began stays behind: no history row
 * Syncing, no temp file in the lake, no incomplete multipart upload, none of
 * its files in the lake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import postgres from 'postgres';
import { call, waitFor } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { dropDownload, openRequest, sendAndHangUp, sendWhole } from '../support/raw-http.js';
import { startApiProcess, type ApiProcess } from '../../infra/worker-process.js';

const MiB = 1024 * 1024;
/** The API processes here take at most this many files per upload request (the default is 10,000). */
const MAX_FILES = 3;
const MULTIPART = 'multipart/form-data; boundary=XX';
const fileHead = (name: string) => `--XX\r\nContent-Disposition: form-data; name="f"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`;
const filePart = (name: string, content: string) => `${fileHead(name)}${content}\r\n`;
const CLOSE = '--XX--\r\n';
const DISCARDED = 'an upload request did not complete; none of its files were kept';

type Row = { file_name: string; key: string; sync_status: string; message: string };

describe.each(['filesystem', 's3'] as const)('hostile streams, %s lake', (lakeKind) => {
  let ls: TestLakesync;
  let api: ApiProcess;
  let sql: postgres.Sql;
  let auth: Record<string, string>;
  const bucket = unique('kb');
  const apiEnv = () => ({ ...ls.workerEnv, LAKESYNC_AUTH_SECRET: ls.authSecret, UPLOAD_MAX_FILES_PER_REQUEST: String(MAX_FILES) });

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: lakeKind });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    api = await startApiProcess(apiEnv());
    // The attacker: any token with write scope.
    auth = { authorization: `Bearer ${await ls.token({ scope: 'read write' })}` };
  });
  afterAll(async () => {
    await api?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
  });

  /** The API process is still running and answering. */
  const alive = async (p = api) => {
    expect(p.child.exitCode, p.output().slice(-3000)).toBeNull();
    expect(p.child.signalCode).toBeNull();
    expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
  };
  const logEntries = (msg: string) =>
    api
      .output()
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const logLines = (msg: string) => logEntries(msg).length;
  /** Waits for one more log line `msg` than `before`: the server has dealt with the request. */
  const logged = (msg: string, before: number) => waitFor(`log line "${msg}"`, async () => logLines(msg) > before, 60_000, 50);

  const startSync = async (o: { ttlSeconds?: number } = {}) => {
    const res = await call(ls.url, 'POST', `/${bucket}/uploads`, { name: unique('sync'), path: unique('in'), syncType: 'INCREMENTAL', ...o });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [sync] = await sql`select path from upload_syncs where id = ${res.body.syncId as string}`;
    return { syncId: res.body.syncId as string, path: sync!.path as string };
  };
  const rows = async (syncId: string) =>
    (await sql<Row[]>`select file_name, key, sync_status, message from upload_files where sync_id = ${syncId} order by start_time, id`).map((r) => ({ ...r }));
  const filesUrl = (syncId: string, p = api) => `${p.url}/${bucket}/uploads/${syncId}/files`;
  const inLake = async (key: string) => (await fetch(`${api.url}/${bucket}/${key}`, { method: 'HEAD', headers: auth })).status === 200;

  /** Temp files in the filesystem lake; incomplete multipart uploads (of `keys`) in the S3 lake. */
  const leftovers = async (keys: string[]): Promise<string[]> => {
    if (ls.lake.kind === 'filesystem') return listFiles(join(ls.lake.dir, '.tmp'));
    const found: string[] = [];
    for (const key of keys) {
      const res = await minioClient().send(new ListMultipartUploadsCommand({ Bucket: ls.lake.bucket, Prefix: `${bucket}/${key}` }));
      found.push(...(res.Uploads ?? []).map((u) => u.Key!));
    }
    return found;
  };

  describe('malformed multipart bodies, sent whole: a 400 naming the field, and nothing kept', () => {
    const shapes: { name: string; contentType?: string; body: (a: string, b: string) => string; field: string }[] = [
      // The request, byte for byte.
      { name: 'cut off inside a file body', body: (a) => `--XX\r\nContent-Disposition: form-data; name="f"; filename="${a}"\r\n\r\nabc`, field: 'body' },
      {
        name: 'cut off inside the part headers',
        body: (a) => `--XX\r\nContent-Disposition: form-data; name="f"; filename="${a}"\r\nContent-Ty`,
        field: 'body',
      },
      { name: 'cut off right after the first boundary', body: () => '--XX\r\n', field: 'body' },
      { name: 'without the final boundary', body: (a) => filePart(a, 'abc'), field: 'body' },
      { name: 'a whole file, then one cut off', body: (a, b) => `${filePart(a, 'whole')}${fileHead(b)}partial`, field: 'body' },
      { name: 'two whole files, then a boundary cut off', body: (a, b) => `${filePart(a, 'one')}${filePart(b, 'two')}--X`, field: 'body' },
      { name: 'a boundary the body does not use', body: (a) => filePart(a, 'abc').replaceAll('--XX', '--YY') + '--YY--\r\n', field: 'body' },
      {
        name: 'a malformed part header',
        body: (a) => `--XX\r\nContent-Disposition: form-data; name="f"; filename="${a}"\r\nno colon here\r\n\r\nabc\r\n${CLOSE}`,
        field: 'body',
      },
      { name: 'no boundary in the content type', contentType: 'multipart/form-data', body: (a) => filePart(a, 'abc') + CLOSE, field: 'content-type' },
      {
        name: 'an unterminated boundary parameter',
        contentType: 'multipart/form-data; boundary="XX',
        body: (a) => filePart(a, 'abc') + CLOSE,
        field: 'content-type',
      },
      { name: 'a part without headers', body: () => `--XX\r\n\r\nabc\r\n${CLOSE}`, field: 'body' },
      { name: 'only a form field, no file', body: () => `--XX\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n${CLOSE}`, field: 'file' },
    ];
    it.each(shapes)('$name', async (shape) => {
      const { syncId, path } = await startSync();
      const [a, b] = ['a.txt', 'b.txt'];
      const res = await sendWhole(filesUrl(syncId), 'POST', { ...auth, 'content-type': shape.contentType ?? MULTIPART }, shape.body(a, b));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: shape.field }] });
      expect(res.body.message).toMatch(new RegExp(`^${shape.field}: `));
      // The body arrives at once, so the parser usually fails before a file is stored; whatever was begun is undone.
      for (const r of await rows(syncId))
        expect(r).toMatchObject({ sync_status: 'Failed', message: expect.stringMatching(/^not kept: the request was refused \(body: /) });
      expect(await inLake(path + a)).toBe(false);
      expect(await inLake(path + b)).toBe(false);
      expect(await leftovers([path + a, path + b])).toEqual([]);
      await alive();
    });
  });

  it('a malformed part after a stored file: a 400 that says the file was not kept, and it is not', async () => {
    const { syncId, path } = await startSync();
    const o = openRequest(filesUrl(syncId), 'POST', { ...auth, 'content-type': MULTIPART });
    // The file ends where the next boundary begins.
    await o.write(`${filePart('first.txt', 'stored, then undone')}--XX`);
    await waitFor('the first file stored', async () => (await rows(syncId))[0]?.sync_status === 'Finished');
    expect(await inLake(`${path}first.txt`)).toBe(true);
    o.end(`\r\nno colon here\r\n\r\nabc\r\n${CLOSE}`);
    const res = await o.answer;
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: 'body' }] });
    expect(res.body.message).toMatch(/^body: is not valid multipart\/form-data: .*; none of the request's 1 files were kept$/);
    expect(await rows(syncId)).toEqual([
      { file_name: 'first.txt', key: `${path}first.txt`, sync_status: 'Failed', message: expect.stringMatching(/^not kept: the request was refused \(body: /) },
    ]);
    expect(await inLake(`${path}first.txt`)).toBe(false);
    const [sync] = await sql`select total_files, num_failed from upload_syncs where id = ${syncId}`;
    expect(sync).toEqual({ total_files: 1, num_failed: 1 });
    await alive();
  });

  it('a discarded request never removes a key another write has replaced since', async () => {
    const { syncId, path } = await startSync();
    const o = openRequest(filesUrl(syncId), 'POST', { ...auth, 'content-type': MULTIPART });
    await o.write(`${filePart('shared.txt', 'from the request that will fail')}--XX`);
    await waitFor('the file stored', async () => (await rows(syncId))[0]?.sync_status === 'Finished');
    // Another client overwrites the key while the first request is still open, with the very same bytes (so the same S3 ETag).
    const put = await fetch(`${api.url}/${bucket}/${path}shared.txt`, { method: 'PUT', headers: auth, body: 'from the request that will fail' });
    expect(put.status).toBe(200);
    o.end(`\r\nno colon here\r\n\r\nabc\r\n${CLOSE}`);
    expect((await o.answer).status).toBe(400);
    expect((await rows(syncId))[0]).toMatchObject({ sync_status: 'Failed' });
    const got = await fetch(`${api.url}/${bucket}/${path}shared.txt`, { headers: auth });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('from the request that will fail');
    await alive();
  });

  it('a multipart body shorter than its Content-Length, the connection half-closed: nothing kept, the API lives', async () => {
    const { syncId, path } = await startSync();
    const body = `${filePart('first.txt', 'whole')}${fileHead('second.txt')}abc`;
    const before = logLines(DISCARDED);
    const head = `POST /${bucket}/uploads/${syncId}/files HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nContent-Type: ${MULTIPART}\r\nContent-Length: ${body.length + 1000}\r\n\r\n`;
    await sendAndHangUp(api.url, head, body);
    await logged(DISCARDED, before);
    expect(logEntries(DISCARDED).at(-1)).toMatchObject({ syncId, reason: 'not kept: the client disconnected before the request ended' });
    for (const r of await rows(syncId))
      expect(r).toMatchObject({ sync_status: 'Failed', message: 'not kept: the client disconnected before the request ended' });
    expect(await inLake(`${path}first.txt`)).toBe(false);
    expect(await leftovers([`${path}first.txt`, `${path}second.txt`])).toEqual([]);
    await alive();
  });

  it('a client that drops the connection inside a large file: every row Failed, no temp file or multipart upload, no file kept', async () => {
    const { syncId, path } = await startSync();
    const big = `${path}big.bin`;
    const o = openRequest(filesUrl(syncId), 'POST', { ...auth, 'content-type': MULTIPART });
    await o.write(filePart('first.txt', 'stored before the drop'));
    await o.write(fileHead('big.bin'));
    await o.write(randomBytes(12 * MiB));
    // The first file is in the lake and the big one is streaming into it (a temp file; an S3 multipart upload).
    await waitFor('the first file stored', async () => (await rows(syncId))[0]?.sync_status === 'Finished');
    await waitFor('the big file streaming into the lake', async () => (await leftovers([big])).length > 0);
    expect(await inLake(`${path}first.txt`)).toBe(true);
    o.abort();
    await waitFor('every row Failed', async () => {
      const r = await rows(syncId);
      return r.length === 2 && r.every((f) => f.sync_status === 'Failed' && f.message === 'not kept: the client disconnected before the request ended');
    });
    expect(await leftovers([big])).toEqual([]);
    expect(await inLake(`${path}first.txt`)).toBe(false);
    expect(await inLake(big)).toBe(false);
    const [sync] = await sql`select total_files, num_failed from upload_syncs where id = ${syncId}`;
    expect(sync).toEqual({ total_files: 2, num_failed: 2 });
    await alive();
  });

  it(`more than ${MAX_FILES} files in one request is refused with a 400 naming the field; the files it had stored are removed`, async () => {
    const { syncId, path } = await startSync();
    // 1 MiB each: more than the parser buffers, so files are stored one by one before the limit is met.
    const form = (names: string[]) => {
      const f = new FormData();
      for (const n of names) f.append('file', new Blob([randomBytes(MiB)], { type: 'application/octet-stream' }), n);
      return f;
    };
    const ok = ['ok-1.bin', 'ok-2.bin', 'ok-3.bin'];
    const atLimit = await fetch(filesUrl(syncId), { method: 'POST', headers: auth, body: form(ok) });
    expect(atLimit.status).toBe(200);
    const over = ['over-1.bin', 'over-2.bin', 'over-3.bin', 'over-4.bin', 'over-5.bin'];
    const res = await fetch(filesUrl(syncId), { method: 'POST', headers: auth, body: form(over) });
    const body = (await res.json()) as { code: string; message: string; details: { field: string; problem: string }[] };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: [{ field: 'file', problem: `more than ${MAX_FILES} files in one request; send them in several` }],
    });
    const r = await rows(syncId);
    expect(r.filter((f) => ok.includes(f.file_name)).map((f) => f.sync_status)).toEqual(['Finished', 'Finished', 'Finished']);
    const refused = r.filter((f) => over.includes(f.file_name));
    // The limit is met at the 4th file's headers, after the 3rd file began streaming into the lake.
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused).toEqual(
      over.slice(0, refused.length).map((n) => ({
        file_name: n,
        key: path + n,
        sync_status: 'Failed',
        message: `not kept: the request was refused (file: more than ${MAX_FILES} files in one request; send them in several)`,
      })),
    );
    expect(body.message).toBe(
      `file: more than ${MAX_FILES} files in one request; send them in several; none of the request's ${refused.length} files were kept`,
    );
    for (const n of over) expect(await inLake(path + n)).toBe(false);
    for (const n of ok) expect(await inLake(path + n)).toBe(true);
    expect(await leftovers(over.map((n) => path + n))).toEqual([]);
    const [sync] = await sql`select total_files, num_failed from upload_syncs where id = ${syncId}`;
    expect(sync).toEqual({ total_files: 3 + refused.length, num_failed: refused.length });
    await alive();
  });

  it('a file the lake cannot take fails alone; the files after it in the same request are stored', async () => {
    const { syncId, path } = await startSync();
    // A folder `<path>dir/` in the lake: the filesystem lake cannot put a file named `dir` there, S3 has no folders in the way.
    const inner = await call(ls.url, 'POST', `/${bucket}/uploads`, { name: unique('sync'), path: `${path}dir`, syncType: 'INCREMENTAL' });
    const one = new FormData();
    one.append('file', new Blob(['inside']), 'inside.txt');
    expect((await fetch(filesUrl(inner.body.syncId as string), { method: 'POST', headers: auth, body: one })).status).toBe(200);
    const f = new FormData();
    f.append('file', new Blob([randomBytes(MiB)]), 'dir');
    f.append('file', new Blob(['after it']), 'after.txt');
    const answer = await fetch(filesUrl(syncId), { method: 'POST', headers: auth, body: f });
    expect(answer.status).toBe(200);
    const files = ((await answer.json()) as { files: { fileName: string; syncStatus: string }[] }).files;
    expect(files.map((x) => [x.fileName, x.syncStatus])).toEqual([
      ['dir', lakeKind === 'filesystem' ? 'Failed' : 'Finished'],
      ['after.txt', 'Finished'],
    ]);
    expect(await inLake(`${path}after.txt`)).toBe(true);
    expect(await leftovers([`${path}dir`])).toEqual([]);
    await alive();
  });

  it('a PUT that stalls halfway and is then dropped leaves no temp file, no multipart upload and no object', async () => {
    const key = `${unique('put')}/stalled.bin`;
    const before = logLines('the client closed the connection before its request ended');
    const o = openRequest(`${api.url}/${bucket}/${key}`, 'PUT', { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(20 * MiB) });
    await o.write(randomBytes(7 * MiB));
    // It stalls there: nothing more is sent, and the server holds what came so far in the lake.
    await waitFor('the PUT streaming into the lake', async () => (await leftovers([key])).length > 0);
    o.abort();
    await logged('the client closed the connection before its request ended', before);
    await waitFor('nothing left in the lake', async () => (await leftovers([key])).length === 0);
    expect(await inLake(key)).toBe(false);
    await alive();
  });

  it('a PUT dropped after a few bytes, and one half-closed short of its Content-Length, store nothing', async () => {
    const dropped = `${unique('put')}/dropped.bin`;
    let before = logLines('the client closed the connection before its request ended');
    const o = openRequest(`${api.url}/${bucket}/${dropped}`, 'PUT', { ...auth, 'content-length': '1000' });
    await o.write('only a few bytes');
    o.abort();
    await logged('the client closed the connection before its request ended', before);
    expect(await inLake(dropped)).toBe(false);

    const short = `${unique('put')}/short.bin`;
    before = logLines('the client closed the connection before its request ended');
    await sendAndHangUp(
      api.url,
      `PUT /${bucket}/${short} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nContent-Length: 5000\r\n\r\n`,
      'x'.repeat(100),
    );
    await logged('the client closed the connection before its request ended', before);
    expect(await inLake(short)).toBe(false);
    await waitFor('no temp file or multipart upload', async () => (await leftovers([dropped, short])).length === 0);
    await alive();
  });

  it('a JSON body cut off by the client is shrugged off', async () => {
    // pino-http's line for every request whose connection closed before its answer.
    const before = logLines('request aborted');
    const o = openRequest(`${api.url}/${bucket}/uploads`, 'POST', { ...auth, 'content-type': 'application/json', 'content-length': '500' });
    await o.write('{"name": "cut off", "syncT');
    o.abort();
    await logged('request aborted', before);
    expect((await sql`select count(*)::int as n from upload_syncs where name = 'cut off'`)[0]).toEqual({ n: 0 });
    await alive();
  });

  it('GETs dropped mid-download (with a token and by signed URL) leave the API running', async () => {
    const key = `${unique('get')}/large.bin`;
    const put = await fetch(`${api.url}/${bucket}/${key}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: randomBytes(24 * MiB),
    });
    expect(put.status).toBe(200);
    let before = logLines('the client closed the connection mid-download');
    const got = await dropDownload(`${api.url}/${bucket}/${key}`, auth);
    expect(got.status).toBe(200);
    expect(got.received).toBeLessThan(got.contentLength);
    await logged('the client closed the connection mid-download', before);
    await alive();

    const signed = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent(key)}/url`);
    expect(signed.status).toBe(200);
    const url = new URL(signed.body.url as string);
    before = logLines('the client closed the connection mid-download');
    const viaSigned = await dropDownload(`${api.url}${url.pathname}${url.search}`, {});
    expect(viaSigned.status).toBe(200);
    expect(viaSigned.received).toBeLessThan(viaSigned.contentLength);
    await logged('the client closed the connection mid-download', before);
    await alive();
  });

  it('nothing above reached the process-wide error paths', async () => {
    await alive();
    expect(api.output()).not.toContain("Unhandled 'error' event");
    expect(api.output()).not.toContain('triggerUncaughtException');
    expect(api.output()).not.toContain('"msg":"unhandled error"');
    expect(api.output()).not.toContain('"msg":"the response failed after it began');
  });

  it('an API process killed mid-upload leaves a row Syncing; ending the sync (or its TTL running out) fails it', async () => {
    const doomed = await startApiProcess(apiEnv());
    const ended = await startSync();
    const expiring = await startSync({ ttlSeconds: 5 });
    const inFlight = [ended, expiring].map((s) => {
      const o = openRequest(filesUrl(s.syncId, doomed), 'POST', { ...auth, 'content-type': MULTIPART });
      // It never ends: the process dies under it.
      o.write(fileHead('cut.bin'))
        .then(() => o.write(randomBytes(MiB)))
        .catch(() => undefined);
      return o;
    });
    for (const s of [ended, expiring]) await waitFor('the file streaming', async () => (await rows(s.syncId))[0]?.sync_status === 'Syncing');
    await doomed.kill('SIGKILL');
    for (const o of inFlight) o.abort();
    expect((await rows(ended.syncId))[0]!.sync_status).toBe('Syncing');

    expect((await call(ls.url, 'POST', `/${bucket}/uploads/${ended.syncId}/end`, {})).body).toEqual({ success: true });
    expect(await rows(ended.syncId)).toEqual([
      { file_name: 'cut.bin', key: `${ended.path}cut.bin`, sync_status: 'Failed', message: 'not stored: the sync ended before the file was received whole' },
    ]);
    await waitFor(
      'the TTL sync failed',
      async () => (await sql`select sync_status from upload_syncs where id = ${expiring.syncId}`)[0]!.sync_status === 'Failed',
    );
    expect(await rows(expiring.syncId)).toEqual([
      { file_name: 'cut.bin', key: `${expiring.path}cut.bin`, sync_status: 'Failed', message: 'not stored: the sync failed (not ended within its TTL of 5 s)' },
    ]);
    await alive();
  });
});
