/**
 * DataInsider's file-upload API as its documentation shows it
 * (../shared/seeds, "File upload"): its five curl samples, run by the real
 * curl with only the host, the api_key, the file and the sync_id put in,
 * against lakesync's own upload syncs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DataInsiderHistory, DataInsiderSyncList } from '../../api/contract/datainsider.js';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles as files } from '../support/objects.js';
import { decodedPayloads } from '../support/payloads.js';
import { temporalCli } from '../support/temporal-cli.js';

const run = promisify(execFile);

/** The seed's samples, copied as they are written there. */
const SAMPLES = {
  start: `curl --request POST \\
--url http://[client].datainsider.co/api/ingestion/file/sync/start \\
--header 'Content-Type: application/json' \\
--data '{
"name" : "transactions incremental sync 06/12/21",
"path" : "/data/db/transactions",
"api_key" : "cccccccc-14a1-4eb1-8964-000000000000",
"sync_type" : "IncrementalSync"
}'`,
  upload: `curl --request POST \\
--url 'https://[client].datainsider.co/api/lake/file/upload?sync_id=8' \\
--header 'Content-Type: multipart/form-data; boundary=---011000010111000001101001' \\
--form file=@/data/example/sales_transaction.parquet`,
  end: `curl --request POST \\
--url https://[client].datainsider.co/api/ingestion/file/sync/end \\
--header 'Content-Type: application/json' \\
--data '{
"sync_id" : 8,
"api_key" : "cccccccc-14a1-4eb1-8964-000000000000"
}
'`,
  list: `curl --request GET \\
--url 'https://[client].datainsider.co/api/ingestion/file/sync/list?from=0&size=10' \\
--header 'Content-Type: application/json'`,
  history: `curl --request GET \\
--url 'https://[client].datainsider.co/api/ingestion/file/sync/history?from=0&size=10' \\
--header 'Content-Type: application/json'`,
};

/** A sample's arguments as a shell would split them (line continuations, single quotes; all the samples use). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  const src = command.replace(/\\\n/g, ' ');
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === "'") {
      const close = src.indexOf("'", i + 1);
      word = (word ?? '') + src.slice(i + 1, close);
      i = close;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + c;
  }
  if (word !== null) words.push(word);
  return words;
}

describe('DataInsider upload syncs', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;
  let lake: string;
  const bucket = unique('di');
  /** Our service-account key, written as DataInsider's api_key. */
  let apiKey: string;
  let accessKeyId: string;
  /** Every log line of the API and worker, and every answer a DataInsider call got: no secret may be in either. */
  let logs = '';
  const answers: string[] = [];

  const newKey = async (body: unknown, token?: string) => {
    const res = await call(ls.url, 'POST', '/admin/keys', body, token ? { authorization: `Bearer ${token}` } : {});
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { id: res.body.accessKeyId as string, apiKey: `${res.body.accessKeyId}.${res.body.secretAccessKey}` };
  };

  /** Runs a seed sample with curl: its arguments, with the host, api_key, file and sync_id substituted; the key as a bearer token where the sample sends none. */
  const curl = async (sample: string, o: { syncId?: number; file?: string; url?: (u: string) => string; key?: string } = {}) => {
    const key = o.key ?? apiKey;
    let args = shellWords(sample)
      .slice(1)
      .map((a) =>
        a
          .replace(/^https?:\/\/\[client\]\.datainsider\.co/, ls.url)
          .replace('cccccccc-14a1-4eb1-8964-000000000000', key)
          .replace('file=@/data/example/sales_transaction.parquet', `file=@${o.file ?? join(dir, 'sales_transaction.parquet')}`)
          .replace('sync_id=8', `sync_id=${o.syncId}`)
          .replace('"sync_id" : 8', `"sync_id" : ${o.syncId}`),
      );
    if (o.url) args = args.map((a) => (a.startsWith(ls.url) ? o.url!(a) : a));
    if (!sample.includes('api_key')) args.push('--header', `Authorization: Bearer ${key}`);
    const { stdout } = await run('curl', [...args, '--silent', '--show-error', '--write-out', '\n%{http_code}']);
    const at = stdout.lastIndexOf('\n');
    answers.push(stdout);
    return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as any, raw: stdout };
  };

  /** A DataInsider call without a bearer token of lakesync's: the api_key is in the body, or given as `key`. */
  const di = async (method: string, path: string, o: { json?: unknown; key?: string | null; form?: FormData } = {}) => {
    const headers: Record<string, string> = {};
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(ls.url + path, { method, headers, body: o.form ?? (o.json === undefined ? undefined : JSON.stringify(o.json)) });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, body: JSON.parse(text) as any };
  };
  const start = async (body: Record<string, unknown>, key = apiKey) => {
    const res = await di('POST', '/api/ingestion/file/sync/start', { json: { api_key: key, ...body } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.sync_id as number;
  };
  const form = (names: string[]) => {
    const f = new FormData();
    for (const n of names) f.append('file', new Blob([`content of ${n}`]), n);
    return f;
  };
  const upload = (syncId: number | string, names: string[], key = apiKey, query = '') =>
    di('POST', `/api/lake/file/upload?sync_id=${syncId}${query}`, { form: form(names), key });
  const end = (syncId: number, key = apiKey) => di('POST', '/api/ingestion/file/sync/end', { json: { sync_id: syncId, api_key: key } });
  const counts = async () => (await sql`select (select count(*) from upload_syncs)::int s, (select count(*) from upload_files)::int f`)[0];

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) });
    ls = await startTestLakesync({ lake: 'filesystem', log: pino({ level: 'debug' }, sink) });
    sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    lake = join((ls.lake as { dir: string }).dir, bucket);
    dir = await mkdtemp(join(tmpdir(), 'di-samples-'));
    await writeFile(join(dir, 'sales_transaction.parquet'), 'PAR1 sales PAR1');
    await writeFile(join(dir, 'random_data.parquet'), 'PAR1 random PAR1');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    ({ id: accessKeyId, apiKey } = await newKey({ scopes: ['read', 'write'], buckets: [bucket] }));
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers the five samples in the shapes the seed shows, and the sync is the one GET /:bucket/uploads shows', async () => {
    const started = await curl(SAMPLES.start);
    expect(started.status, started.raw).toBe(200);
    expect(Object.keys(started.body)).toEqual(['sync_id']);
    expect(Number.isInteger(started.body.sync_id)).toBe(true);
    const syncId = started.body.sync_id as number;

    const first = await curl(SAMPLES.upload, { syncId });
    expect(first.status, first.raw).toBe(200);
    expect(first.body).toEqual({ code: 0, msg: null });
    // The second call names a folder under the sync's path.
    const second = await curl(SAMPLES.upload, {
      syncId,
      file: join(dir, 'random_data.parquet'),
      url: (u) => u.replace('?sync_id=', '?path=/2021/12/&sync_id='),
    });
    expect(second.body).toEqual({ code: 0, msg: null });

    const ended = await curl(SAMPLES.end, { syncId });
    expect(ended.status, ended.raw).toBe(200);
    expect(ended.body).toEqual({ success: true });
    expect(await files(join(lake, 'data/db/transactions'))).toEqual(['2021/12/random_data.parquet', 'sales_transaction.parquet']);

    const list = await curl(SAMPLES.list);
    expect(list.status, list.raw).toBe(200);
    const syncs = z.array(DataInsiderSyncList.element.strict()).parse(list.body);
    const sync = syncs.find((s) => s.sync_id === syncId)!;
    expect(sync).toMatchObject({
      name: 'transactions incremental sync 06/12/21',
      path: '/data/db/transactions',
      sync_type: 'IncrementalSync',
      sync_status: 'Finished',
      total_files: 2,
      num_failed: 0,
    });
    for (const field of ['org_id', 'sync_id', 'start_time', 'end_time', 'total_files', 'num_failed'] as const)
      expect(Number.isInteger(sync[field]), field).toBe(true);
    expect(sync.org_id).toBeGreaterThan(0);
    expect(sync.end_time).toBeGreaterThanOrEqual(sync.start_time);

    const history = await curl(SAMPLES.history);
    expect(history.status, history.raw).toBe(200);
    const entries = z
      .array(DataInsiderHistory.element.strict())
      .parse(history.body)
      .filter((h) => h.sync_id === syncId);
    expect(entries.map((h) => [h.file_name, h.sync_status, h.message, h.org_id])).toEqual([
      ['sales_transaction.parquet', 'Finished', '', sync.org_id],
      ['random_data.parquet', 'Finished', '', sync.org_id],
    ]);
    expect(entries.every((h) => Number.isInteger(h.history_id) && h.end_time >= h.start_time)).toBe(true);
    expect(entries[1]!.history_id).toBeGreaterThan(entries[0]!.history_id);

    // The other surface: the same sync, its string id the workflow's, its number the sync_id.
    const ours = (await call(ls.url, 'GET', `/${bucket}/uploads?size=100`)).body.find((s: { syncNumber: number }) => s.syncNumber === syncId);
    expect(ours).toMatchObject({ syncType: 'INCREMENTAL', syncStatus: 'Finished', path: 'data/db/transactions/', totalFiles: 2 });
    expect(ours.syncId).toMatch(/^sync_/);
  });

  it('a FullSync moves what the previous sync left under its path to the trash', async () => {
    const first = await start({ name: 'full 1', path: '/full', sync_type: 'FullSync' });
    expect((await upload(first, ['a.csv', 'b.csv'])).body).toEqual({ code: 0, msg: null });
    expect((await end(first)).body).toEqual({ success: true });
    const second = await start({ name: 'full 2', path: '/full', sync_type: 'FullSync' });
    expect(second).toBe(first + 1);
    await upload(second, ['b.csv']);
    await end(second);
    expect(await files(join(lake, 'full'))).toEqual(['b.csv']);
    const row = (await call(ls.url, 'GET', `/${bucket}/uploads?size=100`)).body.find((s: { syncNumber: number }) => s.syncNumber === second);
    expect(row).toMatchObject({ syncType: 'FULL', trashed: 1 });
    expect(await files(join(lake, '.trash', row.syncId, 'full'))).toEqual(['a.csv']);
    const listed = (await di('GET', '/api/ingestion/file/sync/list?from=0&size=100', { key: apiKey })).body;
    expect(listed.find((s: { sync_id: number }) => s.sync_id === second)).toMatchObject({ sync_type: 'FullSync', sync_status: 'Finished', total_files: 1 });
  });

  it('refuses a wrong, unknown, revoked, unlimited or read-only api_key, creating nothing', async () => {
    const before = await counts();
    const secret = apiKey.split('.')[1]!;
    const wrongSecret = `${accessKeyId}.${'A'.repeat(40)}`;
    for (const key of [wrongSecret, 'cccccccc-14a1-4eb1-8964-000000000000', `LKSA${'Z'.repeat(16)}.${secret}`, '']) {
      const res = await di('POST', '/api/ingestion/file/sync/start', { json: { name: 'x', path: '/x', api_key: key, sync_type: 'FullSync' } });
      expect(res.status, key).toBe(401);
      expect(res.body).toEqual({ code: 401, msg: 'api_key: is not a valid key' });
    }
    const missing = await di('GET', '/api/ingestion/file/sync/list');
    expect(missing.status).toBe(401);
    expect(missing.body.msg).toMatch(/^api_key: missing/);
    expect((await di('GET', '/api/ingestion/file/sync/list', { key: wrongSecret })).status).toBe(401);
    // A bearer token of lakesync's is not an api_key.
    expect((await di('GET', '/api/ingestion/file/sync/list', { key: await ls.token() })).status).toBe(401);

    const unlimited = await newKey({ scopes: ['read', 'write'] });
    const res = await di('POST', '/api/ingestion/file/sync/start', { json: { name: 'x', path: '/x', api_key: unlimited.apiKey, sync_type: 'FullSync' } });
    expect(res.status).toBe(403);
    expect(res.body.msg).toMatch(/^api_key: must be limited to exactly one bucket/);
    const readOnly = await newKey({ scopes: ['read'], buckets: [bucket] });
    expect(
      (await di('POST', '/api/ingestion/file/sync/start', { json: { name: 'x', path: '/x', api_key: readOnly.apiKey, sync_type: 'FullSync' } })).body,
    ).toEqual({
      code: 403,
      msg: 'api_key: lacks the write scope',
    });
    expect((await di('GET', '/api/ingestion/file/sync/list', { key: readOnly.apiKey })).status).toBe(200);

    const revoked = await newKey({ scopes: ['read', 'write'], buckets: [bucket] });
    const open = await start({ name: 'revoked', path: '/revoked', sync_type: 'IncrementalSync' }, revoked.apiKey);
    expect((await call(ls.url, 'DELETE', `/admin/keys/${revoked.id}`)).status).toBe(204);
    const after = await counts();
    expect((await upload(open, ['late.csv'], revoked.apiKey)).status).toBe(401);
    expect((await end(open, revoked.apiKey)).status).toBe(401);
    expect(
      (await di('POST', '/api/ingestion/file/sync/start', { json: { name: 'x', path: '/x', api_key: revoked.apiKey, sync_type: 'FullSync' } })).status,
    ).toBe(401);
    expect(await counts()).toEqual(after);
    expect(after).toEqual({ s: before!.s + 1, f: before!.f });
  });

  it('refuses hostile input with a 4xx naming the field, creating nothing', async () => {
    const open = await start({ name: 'hostile', path: '/hostile', sync_type: 'IncrementalSync' });
    const before = await counts();
    const refusedStart = async (body: Record<string, unknown>, field: string, status = 400) => {
      const res = await di('POST', '/api/ingestion/file/sync/start', { json: { name: 'n', path: '/p', sync_type: 'FullSync', api_key: apiKey, ...body } });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.code).toBe(status);
      expect(res.body.msg, JSON.stringify(body)).toMatch(new RegExp(`^${field}: `));
    };
    await refusedStart({ sync_type: 'Sometimes' }, 'sync_type');
    await refusedStart({ sync_type: 'FULL' }, 'sync_type');
    await refusedStart({ sync_type: undefined }, 'sync_type');
    await refusedStart({ path: '/data/../../etc' }, 'path');
    await refusedStart({ path: '../up' }, 'path');
    await refusedStart({ name: 'a\u0000b' }, 'name');
    await refusedStart({ path: '/data/\u001bx' }, 'path');
    // Authentication comes first: a key with a control character is no key (401), never echoed.
    await refusedStart({ api_key: `${apiKey}\u0007` }, 'api_key', 401);
    await refusedStart({ api_key: `${apiKey}\u0000` }, 'api_key');
    await refusedStart({ syncType: 'FULL' }, 'syncType');

    for (const id of ['8.5', 'abc', '-1', '1e3', '', '0x10', '99999999999', '%00']) {
      const res = await upload(id, ['x.csv']);
      expect(res.status, id).toBe(400);
      expect(res.body.msg, id).toMatch(/^sync_id: /);
    }
    for (const id of [8.5, '8', null, -1]) {
      const res = await di('POST', '/api/ingestion/file/sync/end', { json: { sync_id: id, api_key: apiKey } });
      expect(res.status, String(id)).toBe(400);
      expect(res.body.msg).toMatch(/^sync_id: /);
    }
    for (const path of ['../x', '/a/../../b', 'a/./b', 'a//b', '.trash/x', 'a%00b', 'a%1Bb']) {
      const res = await upload(open, ['x.csv'], apiKey, `&path=${path}`);
      expect(res.status, path).toBe(400);
      expect(res.body.msg, path).toMatch(/^path: /);
    }
    expect((await di('GET', '/api/ingestion/file/sync/list?from=-1&size=10', { key: apiKey })).body.msg).toMatch(/^from: /);
    expect((await di('GET', '/api/ingestion/file/sync/history?from=0&size=5000', { key: apiKey })).body.msg).toMatch(/^size: /);
    expect(await counts()).toEqual(before);
    expect(await files(join(lake, 'hostile'))).toEqual([]);
  });

  it('numbers syncs per organisation, and another organisation’s sync_id is not found', async () => {
    const other = async (org: string) => {
      const token = await ls.token({ org });
      const name = unique('di-other');
      expect((await call(ls.url, 'POST', '/admin/buckets', { name }, { authorization: `Bearer ${token}` })).status).toBe(201);
      return { name, ...(await newKey({ scopes: ['read', 'write'], buckets: [name] }, token)) };
    };
    const b = await other('org-b');
    const c = await other('org-c');
    // org-b's first sync is its sync 1, whatever the other organisations have started.
    const theirs = await start({ name: 'b', path: '/b', sync_type: 'FullSync' }, b.apiKey);
    expect(theirs).toBe(1);
    const before = await counts();
    const up = await upload(theirs, ['stolen.csv'], c.apiKey);
    expect(up.status).toBe(404);
    expect(up.body).toEqual({ code: 404, msg: 'sync_id: sync 1 not found' });
    expect((await end(theirs, c.apiKey)).status).toBe(404);
    expect((await di('GET', '/api/ingestion/file/sync/list', { key: c.apiKey })).body).toEqual([]);
    expect((await di('GET', '/api/ingestion/file/sync/history', { key: c.apiKey })).body).toEqual([]);
    const listed = (await di('GET', '/api/ingestion/file/sync/list', { key: b.apiKey })).body;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ sync_id: 1, sync_status: 'Syncing', total_files: 0 });
    expect(await counts()).toEqual(before);
  });

  it('never puts an api_key’s secret in a log line, an answer or a sync’s workflow history', async () => {
    const secret = apiKey.split('.')[1]!;
    const syncs = (await call(ls.url, 'GET', `/${bucket}/uploads?size=100`)).body as { syncId: string }[];
    expect(syncs.length).toBeGreaterThan(3);
    const payloads: string[] = [];
    let histories = '';
    for (const { syncId } of syncs) {
      const shown = await temporalCli('workflow', 'show', '--workflow-id', `lakesync-upload-${syncId}`, '--output', 'json');
      histories += shown;
      payloads.push(...decodedPayloads(shown));
    }
    expect(histories).toContain('uploadSync');
    expect(payloads.join('\n')).toContain(syncs[0]!.syncId);
    expect(logs).toContain('/api/ingestion/file/sync/start');
    // Request lines name the bucket and the sync's workflow, as on lakesync's own routes.
    const uploadLine = logs
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { req?: { url?: string }; res?: { statusCode?: number }; bucket?: string; workflowId?: string })
      .find((l) => l.req?.url?.startsWith('/api/lake/file/upload') && l.res?.statusCode === 200);
    expect(uploadLine).toMatchObject({ bucket, workflowId: expect.stringMatching(/^lakesync-upload-sync_/) });
    expect(answers.length).toBeGreaterThan(20);
    for (const [where, text] of [
      ['log', logs],
      ['answers', answers.join('\n')],
      ['histories', histories],
      ['payloads', payloads.join('\n')],
    ] as const)
      expect(text.includes(secret), where).toBe(false);
  });
});
