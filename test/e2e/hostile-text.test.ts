/**
 * Hostile text at the edge (issue #12): control characters and unpaired
 * surrogates never reach a workflow or Postgres; authentication comes before
 * any validation; a data exception inside an activity fails it once instead
 * of wedging its controller; migrations run once however many processes
 * start together; and a bucket whose objects are gone can be deleted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { SignJWT } from 'jose';
import { ROUTES as OPERATIONS } from '../../api/route-table.js';
import { runMigrations } from '../../db/migrate.js';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { run as runCli } from '../../cli/program.js';
import { controllerWorkflowId, pauseSignal } from '../../workflows/shared.js';
import { authHeader, call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

/** A raw request, for what fetch would refuse or rewrite (header bytes, exact paths). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: any }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    // DELETE bodies are not chunked by default: frame every body by its length.
    const framed = body ? { ...headers, 'content-length': String(body.length) } : headers;
    const req = request({ host: url.hostname, port: url.port, method, path, headers: framed }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile text', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;
  const bucket = unique('ht');
  let sourceId: string;

  const counts = async () => {
    const [row] =
      await sql`select (select count(*) from buckets)::int as buckets, (select count(*) from sources)::int as sources, (select count(*) from jobs)::int as jobs,
      (select count(*) from pipelines)::int as pipelines, (select count(*) from upload_syncs)::int as syncs`;
    return row;
  };

  beforeAll(async () => {
    // A controller that failed comes back within seconds, not the default five minutes.
    ls = await startTestLakesync({ lake: 'filesystem', env: { LAKESYNC_HEAL_INTERVAL_SECONDS: '5' } });
    sql = postgres(ls.databaseUrl, { max: 1 });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-hostile-'));
    await writeFile(join(dir, 'one.txt'), 'one');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'ok', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600 });
    expect(created.status).toBe(201);
    sourceId = created.body.sourceId;
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('authentication comes first', () => {
    const fill = (path: string) => path.replace('{bucket}', bucket).replace(/\{(\w+)\}/g, (_, n: string) => `${n}-x`);

    it('every route of the OpenAPI table answers 401 without a token, whatever is wrong with its body, query or path', async () => {
      const routes = OPERATIONS.filter((op) => op.scope !== null);
      expect(routes.length).toBeGreaterThan(40);
      for (const op of routes) {
        for (const variant of [
          { name: 'malformed query', path: `${fill(op.path)}?page_size=abc&max_keys=-1&nope=%00&status=X`, body: '{"name": ' },
          { name: 'control characters in the path', path: fill(op.path).replace('-x', '%00%1b'), body: '[1,' },
          // A signature query must not stand in for a token anywhere but the byte plane's reads.
          { name: 'signature query', path: `${fill(op.path)}?X-Lakesync-Signature=abc&X-Lakesync-Expires=1&page_size=abc`, body: '{"bad": "\\u0000"}' },
        ]) {
          if (variant.name === 'signature query' && op.path === '/{bucket}/{key}' && (op.method === 'get' || op.method === 'head')) continue;
          const headers = { 'content-type': 'application/json' };
          const withBody = op.method !== 'get' && op.method !== 'head';
          const res = await rawRequest(ls.url, op.method.toUpperCase(), variant.path, headers, withBody ? Buffer.from(variant.body) : undefined).catch((e) => {
            throw new Error(`${op.method} ${variant.path}: ${e}`);
          });
          expect(res.status, `${op.method.toUpperCase()} ${op.path} (${variant.name})`).toBe(401);
        }
      }
    });

    it('a signed URL reaches only the byte plane: its bad signature is 403 there, and a token is still needed elsewhere', async () => {
      const bytePlane = await rawRequest(ls.url, 'GET', `/${bucket}/some/key.txt?X-Lakesync-Signature=abc&X-Lakesync-Expires=1`, {});
      expect(bytePlane.status).toBe(403);
      expect(bytePlane.body.details).toEqual([{ field: 'signature', problem: expect.any(String) }]);
      const jobs = await rawRequest(ls.url, 'GET', `/${bucket}/jobs?X-Lakesync-Signature=abc&X-Lakesync-Expires=1`, {});
      expect(jobs.status).toBe(401);
    });

    it('a read-only token cannot reach the admin routes by spelling /admin in capitals', async () => {
      const reader = await ls.token({ scope: 'read' });
      const res = await call(ls.url, 'GET', '/ADMIN/buckets', undefined, { authorization: `Bearer ${reader}` });
      expect(res.status).toBe(403);
      expect(res.body.details).toEqual([{ field: 'authorization', problem: 'lacks the admin scope' }]);
    });
  });

  describe('token claims', () => {
    const forge = (claims: Record<string, unknown>) =>
      new SignJWT({ scope: 'read write admin', ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(ls.authSecret));

    it('a token whose org, sub or scope claim holds control characters is 401, and creates nothing', async () => {
      const before = await counts();
      for (const claims of [
        { org: 'evil\u0000org' },
        { org: 'esc\u001b[31m' },
        { org: 'half\uD800' },
        { org: 'ok-org', sub: 'who\u009b' },
        { org: 'ok-org', scope: 'read write admin\u0000' },
        { org: 'x'.repeat(257) },
      ]) {
        const token = await forge(claims);
        const res = await call(ls.url, 'POST', '/admin/buckets', { name: unique('tok') }, { authorization: `Bearer ${token}` });
        expect(res.status, JSON.stringify(claims)).toBe(401);
        expect(res.body.code).toBe('UNAUTHENTICATED');
        expect(res.body.details[0].field).toBe('authorization');
      }
      expect(await counts()).toEqual(before);
    });

    it('the bearer header takes spaces only between the scheme and the token', async () => {
      const token = await ls.token();
      expect((await rawRequest(ls.url, 'GET', '/admin/buckets', { authorization: `Bearer\t${token}` })).status).toBe(401);
      expect((await rawRequest(ls.url, 'GET', '/admin/buckets', { authorization: `Bearer  ${token}` })).status).toBe(200);
    });
  });

  describe('bodies', () => {
    const s3 = (extra: Record<string, unknown>) => ({
      name: unique('s'),
      kind: 's3',
      s3: { bucket: 'some-bucket', accessKeyId: 'a', secretAccessKey: 'b', ...extra },
    });
    const cases: { name: string; method: string; path: () => string; body: () => unknown; field: string }[] = [
      { name: 'bucket name with NUL', method: 'POST', path: () => '/admin/buckets', body: () => ({ name: 'abc\u0000def' }), field: 'name' },
      {
        name: 'source name with NUL',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => ({ name: 'x\u0000', kind: 'filesystem', filesystem: { path: dir } }),
        field: 'name',
      },
      {
        name: 'source name with an escape sequence',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => ({ name: 'red\u001b[31m', kind: 'filesystem', filesystem: { path: dir } }),
        field: 'name',
      },
      {
        name: 'source name with CSI (C1)',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => ({ name: 'csi\u009b2J', kind: 'filesystem', filesystem: { path: dir } }),
        field: 'name',
      },
      {
        name: 'source name with an unpaired surrogate',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => '{"name":"half\\ud800","kind":"filesystem","filesystem":{"path":"/tmp"}}',
        field: 'name',
      },
      { name: 's3 prefix with NUL', method: 'POST', path: () => `/${bucket}/sources`, body: () => s3({ prefix: 'in\u0000' }), field: 's3.prefix' },
      { name: 's3 region with NUL', method: 'POST', path: () => `/${bucket}/sources`, body: () => s3({ region: 'us\u0000' }), field: 's3.region' },
      {
        name: 's3 secret with NUL (not echoed)',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => s3({ secretAccessKey: 'topsecret\u0000' }),
        field: 's3.secretAccessKey',
      },
      {
        name: 'filesystem path with a newline',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => ({ name: unique('s'), kind: 'filesystem', filesystem: { path: `${dir}\n` } }),
        field: 'filesystem.path',
      },
      {
        name: 'include glob with NUL',
        method: 'POST',
        path: () => `/${bucket}/sources`,
        body: () => ({ name: unique('s'), kind: 'filesystem', filesystem: { path: dir }, fileFilters: { includePatterns: ['*\u0000'] } }),
        field: 'fileFilters.includePatterns.0',
      },
      { name: 'PATCH name with NUL', method: 'PATCH', path: () => `/${bucket}/sources/${sourceId}`, body: () => ({ name: 'y\u0000' }), field: 'name' },
      {
        name: 'PATCH target prefix with DEL',
        method: 'PATCH',
        path: () => `/${bucket}/sources/${sourceId}`,
        body: () => ({ targetPrefix: 'in\u007f' }),
        field: 'targetPrefix',
      },
      {
        name: 'pause reason with NUL',
        method: 'POST',
        path: () => `/${bucket}/sources/${sourceId}/pause`,
        body: () => ({ reason: 'maint\u0000x' }),
        field: 'reason',
      },
      {
        name: 'pause reason with an escape sequence',
        method: 'POST',
        path: () => `/${bucket}/sources/${sourceId}/pause`,
        body: () => ({ reason: 'maint\u001b[2J' }),
        field: 'reason',
      },
      {
        name: 'discover sourceId echo with NUL',
        method: 'POST',
        path: () => `/${bucket}/sources/${sourceId}/discover`,
        body: () => ({ sourceId: `${sourceId}\u0000` }),
        field: 'sourceId',
      },
      {
        name: 'ingest sourceObjectId with NUL',
        method: 'POST',
        path: () => `/${bucket}/sources/${sourceId}/ingest`,
        body: () => ({ sourceObjectId: 'sobj\u0000' }),
        field: 'sourceObjectId',
      },
      { name: 'search query with NUL', method: 'POST', path: () => `/${bucket}/search`, body: () => ({ query: 'find\u0000me' }), field: 'query' },
      { name: 'search prefix with NUL', method: 'POST', path: () => `/${bucket}/search`, body: () => ({ query: 'x', prefix: 'a\u0000' }), field: 'prefix' },
      { name: 'vector search query with NUL', method: 'POST', path: () => `/${bucket}/vector/search`, body: () => ({ query: 'find\u0000me' }), field: 'query' },
      {
        name: 'vector search source id with NUL',
        method: 'POST',
        path: () => `/${bucket}/search/vector`,
        body: () => ({ query: 'x', sourceIds: ['src\u0000'] }),
        field: 'sourceIds.0',
      },
      {
        name: 'upload sync name with NUL',
        method: 'POST',
        path: () => `/${bucket}/uploads`,
        body: () => ({ name: 'up\u0000', path: '', syncType: 'FULL' }),
        field: 'name',
      },
      {
        name: 'pipeline webhook URL with a newline',
        method: 'POST',
        path: () => `/${bucket}/pipelines`,
        body: () => ({ name: 'hook', kind: 'webhook', webhook: { url: 'https://example.test/\nx', secret: 's'.repeat(16) } }),
        field: 'webhook.url',
      },
      {
        name: 'rule pipeline id with NUL',
        method: 'POST',
        path: () => `/${bucket}/rules`,
        body: () => ({ name: 'r', pipelineIds: ['pipe\u0000'] }),
        field: 'pipelineIds.0',
      },
      // The backstop: a key no schema knows still never echoes NUL back or reaches a row.
      { name: 'unknown key with NUL', method: 'POST', path: () => '/admin/buckets', body: () => ({ name: 'fine-name', 'k\u0000': 1 }), field: 'k\\u{0}' },
      {
        name: 'NUL inside a body that is otherwise passed through',
        method: 'POST',
        path: () => `/${bucket}/uploads/sync-x/end`,
        body: () => ({ note: 'a\u0000' }),
        field: 'note',
      },
    ];

    it.each(cases)('$name → 400 naming $field, nothing changed', async (c) => {
      const before = await counts();
      const res = await call(ls.url, c.method, c.path(), c.body());
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGUMENT');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(c.field);
      expect(JSON.stringify(res.body)).not.toContain('topsecret');
      expect(JSON.stringify(res.body)).not.toMatch(/\\u0000/);
      expect(await counts()).toEqual(before);
      expect((await call(ls.url, 'GET', '/healthz')).status).toBe(200);
    });
  });

  describe('paths, queries and headers', () => {
    const cases: { name: string; method: string; path: () => string; field: string; headers?: Record<string, string> }[] = [
      { name: 'source id with NUL', method: 'GET', path: () => `/${bucket}/sources/src_%00`, field: 'sourceId' },
      { name: 'bucket with NUL', method: 'GET', path: () => '/b%00x/sources', field: 'bucket' },
      { name: 'admin bucket with ESC', method: 'GET', path: () => '/admin/buckets/b%1bx', field: 'bucket' },
      { name: 'job id with CR', method: 'GET', path: () => `/${bucket}/jobs/job_%0d`, field: 'jobId' },
      { name: 'pipeline id with NUL', method: 'DELETE', path: () => `/${bucket}/pipelines/p%00`, field: 'pipelineId' },
      { name: 'rule id with C1', method: 'GET', path: () => `/${bucket}/rules/r%C2%9B`, field: 'ruleId' },
      { name: 'upload sync id with NUL', method: 'POST', path: () => `/${bucket}/uploads/sync_%00/restore`, field: 'syncId' },
      { name: 'object key with NUL (admin path)', method: 'GET', path: () => `/${bucket}/objects/a%00b/info`, field: 'key' },
      { name: 'object key with ESC (byte plane)', method: 'PUT', path: () => `/${bucket}/dir/a%1b%5B31m.txt`, field: 'key' },
      { name: 'unpaired surrogate in a path (not UTF-8)', method: 'GET', path: () => `/${bucket}/sources/src_%ED%A0%80`, field: 'sourceId' },
      { name: 'deep byte-plane key with NUL', method: 'GET', path: () => '/a/b/c%00/d/e/f/g/h/i', field: 'key' },
      { name: 'path no route serves', method: 'PATCH', path: () => '/x%00', field: 'path' },
      { name: 'jobs source_id filter with NUL', method: 'GET', path: () => `/${bucket}/jobs?source_id=%00`, field: 'source_id' },
      { name: 'object list prefix with NUL', method: 'GET', path: () => `/${bucket}/objects?prefix=a%00`, field: 'prefix' },
      { name: 'object list delimiter with ESC', method: 'GET', path: () => `/${bucket}/objects?delimiter=%1b`, field: 'delimiter' },
      { name: 'upload history syncId with NUL', method: 'GET', path: () => `/${bucket}/uploads/history?syncId=%00`, field: 'syncId' },
      { name: 'page token with NUL', method: 'GET', path: () => `/${bucket}/sources?page_token=%00`, field: 'page_token' },
      { name: 'query name with NUL', method: 'GET', path: () => `/${bucket}/sources?a%00=1`, field: 'query' },
      { name: 'query value not UTF-8 (lone %FF)', method: 'GET', path: () => `/${bucket}/objects?prefix=a%FF`, field: 'prefix' },
      { name: 'query value with a broken escape', method: 'GET', path: () => `/${bucket}/jobs?source_id=%E2%82`, field: 'source_id' },
      {
        name: 'content type with CSI (C1)',
        method: 'PUT',
        path: () => `/${bucket}/dir/ok.txt`,
        field: 'content-type',
        headers: { 'content-type': 'text/plain\x9b' },
      },
    ];

    it.each(cases)('$name → 400 naming $field', async (c) => {
      const before = await counts();
      const res = await rawRequest(ls.url, c.method, c.path(), { ...authHeader(ls.url), ...c.headers }, c.method === 'PUT' ? Buffer.from('body') : undefined);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGUMENT');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(c.field);
      expect(await counts()).toEqual(before);
      expect((await call(ls.url, 'GET', '/healthz')).status).toBe(200);
    });

    it('nothing was stored under a refused key', async () => {
      const list = await call(ls.url, 'GET', `/${bucket}/objects?prefix=dir/`);
      expect(list.status).toBe(200);
      expect(list.body.objects).toEqual([]);
    });
  });

  it('an uploaded file whose name holds control characters fails alone, recorded with them written out', async () => {
    const started = await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'hostile names', path: 'up', syncType: 'INCREMENTAL' });
    expect(started.status).toBe(201);
    const boundary = 'lakesyncboundary';
    // A raw control byte in a part header is malformed multipart; RFC 5987's filename* carries one percent-encoded.
    const part = (disposition: Buffer, content: string) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; `),
        disposition,
        Buffer.from(`\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`),
      ]);
    const body = Buffer.concat([
      part(Buffer.from("filename*=utf-8''bad%00name.txt"), 'x'),
      part(Buffer.from("filename*=utf-8''esc%1B%5B31m.txt"), 'y'),
      // A plain UTF-8 name (as browsers send it) is read as UTF-8, not latin1: ś is not mistaken for C1 (\x9b).
      part(Buffer.from('filename="fine-ś.txt"'), 'z'),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    const res = await rawRequest(
      ls.url,
      'POST',
      `/${bucket}/uploads/${started.body.syncId}/files`,
      { ...authHeader(ls.url), 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.files.map((f: { fileName: string; syncStatus: string }) => [f.fileName, f.syncStatus])).toEqual([
      ['bad\\u{0}name.txt', 'Failed'],
      ['esc\\u{1b}[31m.txt', 'Failed'],
      ['fine-ś.txt', 'Finished'],
    ]);
    expect(res.body.files[0].message).toMatch(/^file name must not contain control characters \(U\+0000 NUL/);
    const history = await call(ls.url, 'GET', `/${bucket}/uploads/history?syncId=${started.body.syncId}`);
    expect(history.body.map((f: { fileName: string }) => f.fileName).sort()).toEqual(['bad\\u{0}name.txt', 'esc\\u{1b}[31m.txt', 'fine-ś.txt']);
    expect((await call(ls.url, 'POST', `/${bucket}/uploads/${started.body.syncId}/end`, {})).status).toBe(200);
  });

  it('a refused pause reason leaves the source to pause, resume and sync normally', async () => {
    const bad = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, { reason: 'maint\u0000x' });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([{ field: 'reason', problem: 'must not contain control characters (U+0000 NUL at character 5)' }]);
    // Free text may hold tabs and newlines.
    const paused = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, { reason: 'maintenance:\n\tdisk swap' });
    expect(paused.status).toBe(200);
    await waitFor(
      'the pause recorded',
      async () => (await sql`select paused, pause_reason from sources where id = ${sourceId}`)[0]?.pause_reason === 'maintenance:\n\tdisk swap',
    );
    const status = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`);
    expect(status.body).toMatchObject({ paused: true, pauseReason: 'maintenance:\n\tdisk swap' });
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/resume`, {})).status).toBe(200);
    await waitFor('the resume recorded', async () => (await sql`select paused from sources where id = ${sourceId}`)[0]?.paused === false);
    const discover = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(discover.status).toBe(200);
    const { job } = await waitForJob(ls.url, bucket, sourceId, discover.body.jobId);
    expect(job.status).toBe('JOB_STATUS_SUCCEEDED');
    expect((await fetch(`${ls.url}/${bucket}/one.txt`, { headers: authHeader(ls.url) })).status).toBe(200);
  });

  it('a value Postgres refuses fails its activity once, not forever: the controller fails and heals, and the source syncs again', async () => {
    // The temporal CLI (or any client) can signal the controller without the API's checks.
    const temporal = ls.runtime.temporal;
    const workflowId = controllerWorkflowId(sourceId);
    await temporal.workflow.getHandle(workflowId).signal(pauseSignal, { reason: 'maint\u0000x' });
    const failed = await waitFor('the controller run to fail', async () => {
      for await (const w of temporal.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Failed'` })) return w;
      return null;
    });
    const events = (await temporal.workflow.getHandle(workflowId, failed.runId).fetchHistory()).events ?? [];
    const failure = events.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
    expect(failure?.failure?.applicationFailureInfo).toMatchObject({ type: 'UnstorableValue', nonRetryable: true });
    expect(failure?.failure?.message).toMatch(/SQLSTATE 22/);
    const started = events.find(
      (e) => e.activityTaskStartedEventAttributes && String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(failure?.scheduledEventId),
    );
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    // The periodic check starts the controller again; the source syncs as before.
    await waitFor('a new controller run', async () => (await temporal.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING', 60_000);
    const discover = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { fullSync: true });
    expect(discover.status).toBe(200);
    const { job } = await waitForJob(ls.url, bucket, sourceId, discover.body.jobId);
    expect(job.status).toBe('JOB_STATUS_SUCCEEDED');
  });

  it('the CLI prints a stored name with escape sequences inertly', async () => {
    // Written behind the API's back, as data from before these checks could be.
    const hostile = unique('cli');
    await sql`insert into sources (id, bucket_id, name, kind, connection, workflow_id)
      select ${`src_${hostile}`}, id, ${'evil\u001b[2J\u001b]0;title\u0007\u009b31m\rname'}, 'upload', ${sql.json({ upload: {} })}, ${`wf-${hostile}`} from buckets where name = ${bucket}`;
    try {
      const out = { stdout: '', stderr: '' };
      const io = { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: {}, cwd: tmpdir() };
      const token = authHeader(ls.url).authorization!.replace('Bearer ', '');
      expect(await runCli(['node', 'lakesync', 'sources', 'list', bucket, '--url', ls.url, '--token', token], io)).toBe(0);
      expect(out.stdout).toContain('evil\\u{1b}[2J');
      expect(out.stdout.replace(/\n/g, '')).not.toMatch(/[\p{Cc}]/u);
      out.stdout = '';
      expect(await runCli(['node', 'lakesync', 'sources', 'list', bucket, '--url', ls.url, '--token', token, '--json'], io)).toBe(0);
      expect(JSON.parse(out.stdout).sources.map((s: { name: string }) => s.name)).toContain('evil\u001b[2J\u001b]0;title\u0007\u009b31m\rname');
    } finally {
      await sql`delete from sources where id = ${`src_${hostile}`}`;
    }
  });
});

describe('deleting a bucket', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 1 });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-bucket-del-'));
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (bucket: string, key: string) => fetch(`${ls.url}/${bucket}/${key}`, { method: 'PUT', headers: authHeader(ls.url), body: 'bytes' });

  it('once its pushed objects are all deleted: 204, with its built-in push source, catalog and controller gone', async () => {
    const bucket = unique('del');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    expect((await put(bucket, 'a/one.txt')).status).toBe(200);
    const [push] = await sql`select s.id, s.workflow_id from sources s join buckets b on b.id = s.bucket_id where b.name = ${bucket} and s.kind = 'upload'`;
    expect(push).toBeDefined();
    // The push source's controller ingests it before it is deleted.
    await waitFor('the object ingested', async () => (await sql`select status from source_objects where source_id = ${push!.id}`)[0]?.status === 'ingested');
    expect((await call(ls.url, 'DELETE', `/${bucket}/a/one.txt`)).status).toBe(204);

    const res = await call(ls.url, 'DELETE', `/admin/buckets/${bucket}`);
    expect(res.status).toBe(204);
    expect((await call(ls.url, 'GET', `/admin/buckets/${bucket}`)).status).toBe(404);
    expect(await sql`select 1 from sources where id = ${push!.id}`).toHaveLength(0);
    expect(await sql`select 1 from source_objects where source_id = ${push!.id}`).toHaveLength(0);
    expect(await sql`select 1 from jobs where source_id = ${push!.id}`).toHaveLength(0);
    await waitFor(
      'the push source controller to end',
      async () => (await ls.runtime.temporal.workflow.getHandle(push!.workflow_id).describe()).status.name !== 'RUNNING',
      60_000,
    );
    // The name is free again, and a new bucket of that name starts empty.
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    expect((await call(ls.url, 'GET', `/${bucket}/objects`)).body.objects).toEqual([]);
  });

  it('a bucket with a live object, or a source a user created, is still held: 409 and nothing deleted', async () => {
    const withObject = unique('held');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: withObject })).status).toBe(201);
    expect((await put(withObject, 'keep.txt')).status).toBe(200);
    const held = await call(ls.url, 'DELETE', `/admin/buckets/${withObject}`);
    expect(held.status).toBe(409);
    expect(held.body.details).toEqual([{ field: 'bucket', problem: 'is not empty' }]);
    expect(await sql`select 1 from sources s join buckets b on b.id = s.bucket_id where b.name = ${withObject} and s.kind = 'upload'`).toHaveLength(1);
    expect((await fetch(`${ls.url}/${withObject}/keep.txt`, { headers: authHeader(ls.url) })).status).toBe(200);

    const withSource = unique('held');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: withSource })).status).toBe(201);
    expect((await call(ls.url, 'POST', `/${withSource}/sources`, { name: 'user', kind: 'filesystem', filesystem: { path: dir } })).status).toBe(201);
    const sourced = await call(ls.url, 'DELETE', `/admin/buckets/${withSource}`);
    expect(sourced.status).toBe(409);
    expect(sourced.body.details).toEqual([{ field: 'bucket', problem: 'still has sources' }]);
    expect((await call(ls.url, 'GET', `/admin/buckets/${withSource}`)).status).toBe(200);
  });
});

describe('migrations', () => {
  it('run once when several processes start together on an empty database', async () => {
    const infra = inject('infra');
    const name = unique('lakesync_migrate').replace(/-/g, '_');
    await ensureDatabase(infra.postgresAdminUrl, name);
    const url = infra.postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => runMigrations(url)));
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
    // Every migration the repository ships, once: counted from drizzle's journal, so a new migration needs no edit here.
    const shipped = (JSON.parse(await readFile(new URL('../../db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: unknown[] }).entries
      .length;
    expect(shipped).toBeGreaterThanOrEqual(9);
    const sql = postgres(url, { max: 1, onnotice: () => undefined });
    try {
      const [journal] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(journal!.n).toBe(shipped);
      expect(await sql`select 1 from information_schema.tables where table_schema = 'public' and table_name = 'buckets'`).toHaveLength(1);
      // And again, on a database already migrated: nothing to do, nothing fails.
      await runMigrations(url);
      expect((await sql`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]!.n).toBe(shipped);
    } finally {
      await sql.end();
    }
  });
});
