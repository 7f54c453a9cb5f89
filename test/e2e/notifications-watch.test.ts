/**
 * Watched directories: a filesystem source with `notifications.mode = watch`
 * is watched by the worker holding its lease, and what is written or removed
 * reaches the lake within seconds, though the source polls hourly and nobody
 * calls the API; a burst coalesces into a few runs with exact counters;
 * excluded names do nothing; pausing or turning it off lets the watch go.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { call, expectCoalescedEventRuns, settledRuns, waitFor, type JobView } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('watched filesystem sources', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let bucket: string;
  let lakeRoot: string;
  let dir: string;
  let sourceId: string;

  const lakeText = (key: string) => readFile(join(lakeRoot, key), 'utf8').catch(() => null);
  const jobs = async (): Promise<JobView[]> => {
    const res = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=1000`);
    expect(res.status).toBe(200);
    return res.body.jobs as JobView[];
  };
  const settled = (timeoutMs?: number) => waitFor('runs settled', settledRuns(jobs), timeoutMs);
  const leaseOwners = async () => (await sql<{ owner: string }[]>`select owner from source_watch_leases where source_id = ${sourceId}`).map((r) => r.owner);

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    bucket = unique('wb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    dir = await mkdtemp(join(tmpdir(), 'lakesync-watched-'));
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'watched',
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      fileFilters: { excludePatterns: ['*.tmp'] },
      notifications: { mode: 'watch' },
    });
    expect(created.status).toBe(201);
    expect(created.body.notifications).toEqual({ mode: 'watch', tokenSet: false });
    sourceId = created.body.sourceId;
    await waitFor('the watch lease', async () => (await leaseOwners()).length === 1, 30_000);
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies a written file and removes a deleted one with no poll and no API trigger', async () => {
    await mkdir(join(dir, 'docs'), { recursive: true });
    await writeFile(join(dir, 'docs', 'a.txt'), 'hello');
    await waitFor('the file in the lake', async () => (await lakeText('docs/a.txt')) === 'hello', 60_000);
    await rm(join(dir, 'docs', 'a.txt'));
    await waitFor('the removal in the lake', async () => (await lakeText('docs/a.txt')) === null, 60_000);
    const all = await settled();
    expect(all.every((j) => j.trigger === 'event')).toBe(true);
    expect(all.reduce((n, j) => n + j.objectsProcessed, 0)).toBe(1);
    expect(all.reduce((n, j) => n + j.objectsDeleted, 0)).toBe(1);
  });

  it('ignores names the filters exclude', async () => {
    const before = (await settled()).length;
    await writeFile(join(dir, 'scratch.tmp'), 'skip');
    await writeFile(join(dir, 'marker.txt'), 'm');
    await waitFor('the marker in the lake', async () => (await lakeText('marker.txt')) === 'm', 60_000);
    const all = await settled();
    expect(await lakeText('scratch.tmp')).toBeNull();
    const runs = all.slice(0, all.length - before);
    expect(runs.reduce((n, j) => n + j.objectsDiscovered, 0)).toBe(1);
  });

  it('coalesces a burst of 2,000 files into a few runs with exact counters', async () => {
    const before = (await settled()).length;
    await mkdir(join(dir, 'burst'));
    for (let i = 0; i < 2000; i++) await writeFile(join(dir, 'burst', `${String(i).padStart(4, '0')}.txt`), `f${i}`);
    await waitFor('the burst in the lake', async () => (await listFiles(join(lakeRoot, 'burst')).catch(() => [])).length === 2000, 240_000, 500);
    const all = await settled(120_000);
    const runs = all.slice(0, all.length - before);
    expectCoalescedEventRuns(runs, 2000);
    expect(await lakeText('burst/1999.txt')).toBe('f1999');
  }, 400_000);

  it('lets the watch go when paused or turned off, and takes it again on resume', async () => {
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, {})).status).toBe(200);
    await waitFor('the lease released', async () => (await leaseOwners()).length === 0, 30_000);
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/resume`, {})).status).toBe(200);
    await waitFor('the lease taken again', async () => (await leaseOwners()).length === 1, 30_000);
    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { notifications: { mode: 'off' } });
    expect(patched.status).toBe(200);
    await waitFor('the lease released', async () => (await leaseOwners()).length === 0, 30_000);
    const webhook = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { notifications: { mode: 'webhook' } });
    expect(webhook.status).toBe(400);
    expect(webhook.body.details).toEqual([{ field: 'notifications.mode', problem: 'filesystem sources take "watch"' }]);
  });
});

describe('a watched source whose worker is killed', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let worker: WorkerProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-watched-'));
  });
  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is watched again by the worker that takes over its lease', async () => {
    worker = await startWorkerProcess(ls.workerEnv);
    const bucket = unique('wk');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'watched',
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      notifications: { mode: 'watch' },
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const owner = async () => (await sql<{ owner: string }[]>`select owner from source_watch_leases where source_id = ${sourceId}`)[0]?.owner;
    const first = worker.child.pid!;
    await waitFor('the first worker holds the lease', async () => (await owner())?.includes(`:${first}:`), 30_000);
    await writeFile(join(dir, 'one.txt'), '1');
    await waitFor('one.txt in the lake', async () => (await readFile(join(lakeRoot, 'one.txt'), 'utf8').catch(() => null)) === '1', 60_000);

    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(ls.workerEnv);
    const second = worker.child.pid!;
    // The dead worker's lease expires (20 s) and the new one takes the source over.
    await waitFor('the new worker holds the lease', async () => (await owner())?.includes(`:${second}:`), 60_000);
    // The lease is taken a moment before the watch is set up; a change in between is left to the scheduled scan.
    await waitFor('the new worker watches the source', async () => worker!.output().includes('watching filesystem source'), 30_000);
    await writeFile(join(dir, 'two.txt'), '2');
    await waitFor('two.txt in the lake', async () => (await readFile(join(lakeRoot, 'two.txt'), 'utf8').catch(() => null)) === '2', 60_000);
    const jobs = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}`);
    expect((jobs.body.jobs as { trigger: string }[]).every((j) => j.trigger === 'event')).toBe(true);
  }, 240_000);
});
