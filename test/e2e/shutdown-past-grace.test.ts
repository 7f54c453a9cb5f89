/**
 * SIGTERM past the grace period, as README "Stopping: SIGTERM and grace
 * periods" tells it: a worker's batches still running at
 * WORKER_SHUTDOWN_GRACE_SECONDS are cancelled and retried on another worker; a
 * worker not drained by WORKER_SHUTDOWN_FORCE_SECONDS exits 1, as safe as a
 * crash; an API cuts the requests still open after API_SHUTDOWN_GRACE_SECONDS
 * and exits 1; a second SIGTERM ends either process at once. Each runs as its
 * own OS process, with small grace values.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createServer, request, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, sha256, tree, writeAll } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '../../infra/worker-process.js';

/** A webhook endpoint that holds every delivery unanswered until released, then answers 200. */
async function startHoldingReceiver() {
  const held: ServerResponse[] = [];
  const answered = new Map<string, Set<string>>();
  let holding = true;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (holding) return void held.push(res);
      const { key } = JSON.parse(Buffer.concat(chunks).toString()) as { key: string };
      answered.set(key, (answered.get(key) ?? new Set()).add(String(req.headers['idempotency-key'])));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`,
    held: () => held.length,
    /** Idempotency keys of the answered deliveries, by object key. */
    answered,
    release: () => {
      holding = false;
    },
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A PUT of `body` through `api` whose first half is sent now; the rest when `finish` is called. */
function halfSentUpload(api: ApiProcess, path: string, token: string, body: Buffer) {
  const req: ClientRequest = request(new URL(path, api.url), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length), 'content-type': 'application/octet-stream' },
  });
  const outcome = new Promise<{ status: number } | { error: string }>((resolve) => {
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.once('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
  req.write(body.subarray(0, body.length / 2));
  return { outcome, finish: () => req.end(body.subarray(body.length / 2)) };
}

describe('shutdown past the grace period', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let lakeDir: string;
  const running: (WorkerProcess | ApiProcess)[] = [];
  const cleanup: (() => Promise<unknown>)[] = [];

  const jobRow = async (jobId: string) => (await sql`select * from jobs where id = ${jobId}`)[0];
  const identity = (p: WorkerProcess) => `${p.child.pid}@`;
  const worker = async (env: Record<string, string> = {}) => {
    const p = await startWorkerProcess({ ...ls.workerEnv, ...env });
    running.push(p);
    return p;
  };
  const api = async (env: Record<string, string>) => {
    const p = await startApiProcess({ ...ls.workerEnv, LAKESYNC_AUTH_SECRET: ls.authSecret, ...env });
    running.push(p);
    return p;
  };
  /** The PUT's first half has reached the lake's temp file: the handler is streaming it. */
  const streaming = (bytes: number) =>
    waitFor('the first half in the lake', async () => {
      const tmp = join(lakeDir, '.tmp');
      for (const f of await listFiles(tmp)) if ((await stat(join(tmp, f))).size >= bytes) return true;
      return false;
    });

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    lakeDir = (ls.lake as { dir: string }).dir;
  });
  // No process of one test lives on into the next.
  afterEach(async () => {
    for (const p of running.splice(0)) await p.kill('SIGKILL');
    for (const c of cleanup.splice(0)) await c();
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
  });

  it('a worker cancels the batches still running at WORKER_SHUTDOWN_GRACE_SECONDS, exits 0, and another worker finishes them exactly', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-grace-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) files.set(`part-${i % 10}/obj-${String(i).padStart(4, '0')}.bin`, randomBytes(100 + ((i * 37) % 900)));
    await writeAll(dir, files);
    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);

    // One copy a second: every batch (20 objects) is still running when the 1 s grace ends; drained well before the force.
    const first = await worker({ WORKER_MAX_OBJECTS_PER_SECOND: '1', WORKER_SHUTDOWN_GRACE_SECONDS: '1', WORKER_SHUTDOWN_FORCE_SECONDS: '15' });
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'slow',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 20,
      targetPrefix: 'grace/',
      syncIntervalSeconds: 86400,
    });
    const sourceId = src.body.sourceId as string;
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    await waitFor('batches copying', async () => Number((await jobRow(jobId))?.objects_processed ?? 0) >= 2, 120_000, 20);

    await first.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('lakesync worker stopped gracefully');
    // Cancelled, not finished: what was copied is recorded once, the rest still owed, no object charged a failed attempt.
    const mid = (await jobRow(jobId))!;
    expect(mid.finished_at).toBeNull();
    const copied = Number(mid.objects_processed);
    expect(copied).toBeLessThan(100);
    const [objects] = await sql`select count(*) filter (where status = 'ingested')::int as ingested, count(*) filter (where status = 'pending')::int as pending,
      count(*) filter (where attempts <> (case when status = 'ingested' then 1 else 0 end))::int as odd from source_objects where source_id = ${sourceId}`;
    expect(objects).toEqual({ ingested: copied, pending: 200 - copied, odd: 0 });

    const second = await worker();
    const { job, sync } = await waitForJob(ls.url, bucket, sourceId, jobId, 240_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsDiscovered: 200,
      objectsProcessed: 200,
      objectsIndexed: 200,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(sync).toMatchObject({ objectsDiscovered: '200', objectsProcessed: '200', objectsIndexed: '200' });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsDiscovered: 200,
      totalObjectsSynced: 200,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
    });
    const [after] =
      await sql`select count(*) filter (where status = 'ingested' and attempts = 1)::int as once, count(*)::int as total from source_objects where source_id = ${sourceId}`;
    expect(after).toEqual({ once: 200, total: 200 });
    expect(await tree(join(lakeDir, bucket, 'grace'))).toEqual(new Map([...files].map(([k, b]) => [k, sha256(b)])));

    // The history: the first worker's batches were cancelled and retried at once (not after a heartbeat timeout); the second completed them all.
    const report = activityReport(await historyChain(ls.runtime.temporal, `lakesync-job-${jobId}`, (await jobRow(jobId))!.run_id));
    expect(report.timedOut).toBe(0);
    expect(report.retries.length).toBeGreaterThan(0);
    for (const r of report.retries) expect(r, r).toMatch(/^ingestBatch attempt 2: Worker is shutting down/);
    expect([...report.batchesByIdentity.keys()].map((who) => who.split('@')[0] + '@')).toEqual([identity(second)]);
    expect(report.completed.get('ingestBatch')).toBe(10);
  });

  it('a worker not drained by WORKER_SHUTDOWN_FORCE_SECONDS exits 1, a second SIGTERM ends one at once, and the next worker completes the sync exactly', async () => {
    const receiver = await startHoldingReceiver();
    cleanup.push(receiver.stop);
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-force-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 30; i++) files.set(`note-${String(i).padStart(3, '0')}.txt`, Buffer.from(`note ${i}\n`));
    await writeAll(dir, files);
    // A delivery waits up to 300 s for its answer, whatever the worker's shutdown: it holds the worker past its grace.
    const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
      name: 'hook',
      kind: 'webhook',
      webhook: { url: receiver.url, secret: 'whsec-force-0123456789abcdef', timeoutSeconds: 300 },
    });
    expect(hook.status).toBe(201);
    expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [hook.body.pipelineId] })).status).toBe(201);

    const forced = await worker({ WORKER_SHUTDOWN_GRACE_SECONDS: '1', WORKER_SHUTDOWN_FORCE_SECONDS: '3' });
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'hooked',
      kind: 'filesystem',
      filesystem: { path: dir },
      batchSize: 10,
      syncIntervalSeconds: 86400,
    });
    const sourceId = src.body.sourceId as string;
    const jobId = (await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;
    await waitFor('a delivery held', async () => receiver.held() >= 1, 120_000, 20);
    await forced.kill('SIGTERM');
    expect(await forced.exited).toEqual({ code: 1, signal: null });
    expect(forced.output()).toContain('worker did not drain before WORKER_SHUTDOWN_FORCE_SECONDS');
    expect(forced.output()).toContain('lakesync worker stopped, cutting work that outlived its grace period');

    // The next worker takes the batch over once its heartbeat lapses, and is held too; a second SIGTERM ends it within its 60 s grace.
    const heldBefore = receiver.held();
    const patient = await worker({ WORKER_SHUTDOWN_GRACE_SECONDS: '60' });
    await waitFor('a delivery held by the next worker', async () => receiver.held() > heldBefore, 120_000, 20);
    patient.child.kill('SIGTERM');
    await waitFor('the worker draining', async () => patient.output().includes('SIGTERM: not polling'), 30_000, 20);
    patient.child.kill('SIGTERM');
    expect(await patient.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(patient.output()).not.toContain('lakesync worker stopped');

    // As safe as a crash: the third worker completes it, every object indexed once and delivered under one idempotency key.
    receiver.release();
    await worker();
    const { job } = await waitForJob(ls.url, bucket, sourceId, jobId, 240_000);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 30, objectsProcessed: 30, objectsIndexed: 30, objectsFailed: 0 });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({ totalObjectsSynced: 30, totalObjectsFailed: 0 });
    const [runs] = await sql`select count(*) filter (where r.status = 'indexed')::int as indexed, count(*)::int as total
      from object_pipeline_runs r join source_objects o on o.id = r.object_id where o.source_id = ${sourceId}`;
    expect(runs).toEqual({ indexed: 30, total: 30 });
    expect([...receiver.answered.keys()].sort()).toEqual([...files.keys()].sort());
    expect([...receiver.answered.values()].every((keys) => keys.size === 1)).toBe(true);
  });

  it('an API cuts the request still open at API_SHUTDOWN_GRACE_SECONDS and exits 1, storing nothing of it', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const p = await api({ API_SHUTDOWN_GRACE_SECONDS: '1' });
    const body = randomBytes(256 * 1024);
    const upload = halfSentUpload(p, `/${bucket}/cut/blob.bin`, await ls.token(), body);
    await streaming(body.length / 2);

    p.child.kill('SIGTERM');
    // The rest never comes: the grace ends with the request open.
    expect(await p.exited).toEqual({ code: 1, signal: null });
    expect(await upload.outcome).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(p.output()).toContain('lakesync api stopped, cutting work that outlived its grace period');
    expect((await call(ls.url, 'GET', `/${bucket}/cut/blob.bin`)).status).toBe(404);
    await expect(stat(join(lakeDir, bucket, 'cut', 'blob.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a second SIGTERM ends an API at once, with its request still open and its grace still running', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const p = await api({ API_SHUTDOWN_GRACE_SECONDS: '60' });
    const body = randomBytes(256 * 1024);
    const upload = halfSentUpload(p, `/${bucket}/twice/blob.bin`, await ls.token(), body);
    await streaming(body.length / 2);

    p.child.kill('SIGTERM');
    await waitFor('the API draining', async () => p.output().includes('SIGTERM: not accepting connections'), 30_000, 20);
    expect(p.child.exitCode).toBeNull();
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(await upload.outcome).toMatchObject({ error: expect.stringMatching(/ECONNRESET|socket hang up/) });
    expect(p.output()).not.toContain('lakesync api stopped');
    expect((await call(ls.url, 'GET', `/${bucket}/twice/blob.bin`)).status).toBe(404);
  });
});
