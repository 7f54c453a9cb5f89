/**
 * `npm run dev` killed with `kill -9` mid-sync and started again. First the
 * dev process alone dies: the Temporal dev server and the embedded Postgres it
 * started exit by themselves (their tethers), and nothing outlives it. Then
 * its whole process group dies at once, servers included, as a crash of the
 * machine would leave them. Each time the next `npm run dev` on the same state
 * directory resumes the in-flight sync, which completes with exact counters
 * and a byte-exact lake. And a second SIGTERM ends a dev that is stopping
 * gracefully at once, as it does the API and the worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { chmod, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../infra/ports.js';
import { stopProcess, tetherToThisProcess } from '../../infra/tether.js';
import { call, setDefaultToken, waitFor, waitForJob } from '../support/http.js';
import { unique } from '../support/lakesync.js';
import { listFiles, sha256, tree, writeAll } from '../support/objects.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const N = 1500;

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  comm: string;
}

/** Every process on the machine, from /proc. */
async function processes(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const [, ppid, pgrp] = stat.slice(close + 2).split(' ');
    out.push({ pid: Number(name), ppid: Number(ppid), pgrp: Number(pgrp), comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

/** The processes `pid` started, and theirs, down the tree. */
async function descendants(pid: number): Promise<Proc[]> {
  const all = await processes();
  const found: Proc[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const p of all) {
      if (p.ppid !== parent) continue;
      found.push(p);
      queue.push(p.pid);
    }
  }
  return found;
}

const alive = async (pids: number[]) => {
  const running = new Set((await processes()).map((p) => p.pid));
  return pids.filter((pid) => running.has(pid));
};

describe('npm run dev killed with kill -9 and started again', () => {
  let work: string;
  let stateDir: string;
  let srcDir: string;
  let url: string;
  let env: Record<string, string>;
  let dev: ChildProcess | undefined;
  let devLog = '';
  const bucket = unique('kb-dev');

  /** `npm run dev` in its own process group (as a terminal runs it), ready once it serves and has written its token. */
  async function startDev(): Promise<ChildProcess> {
    devLog = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/dev.ts'], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    tetherToThisProcess(child.pid!, 'KILL');
    child.stdout!.on('data', (d: Buffer) => (devLog = (devLog + d.toString()).slice(-200_000)));
    child.stderr!.on('data', (d: Buffer) => (devLog = (devLog + d.toString()).slice(-200_000)));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`lakesync dev exited (${code ?? signal}):\n${devLog}`))),
    );
    exited.catch(() => undefined);
    const token = await Promise.race([
      exited,
      waitFor(
        'lakesync dev to serve and write its token',
        async () => {
          if ((await fetch(`${url}/healthz`).catch(() => null))?.status !== 200) return null;
          return (await readFile(join(stateDir, 'dev-token'), 'utf8').catch(() => '')).trim() || null;
        },
        180_000,
        300,
      ),
    ]);
    setDefaultToken(url, token);
    return child;
  }

  const processed = async (jobId: string) => Number((await call(url, 'GET', `/${bucket}/jobs/${jobId}`)).body.objectsProcessed ?? 0);

  beforeAll(async () => {
    const infra = inject('infra');
    work = await mkdtemp(join(tmpdir(), 'lakesync-dev-restart-'));
    // Postgres runs as its own OS user when we are root: it must reach its data dir.
    await chmod(work, 0o755);
    stateDir = join(work, '.lakesync');
    srcDir = join(work, 'source');
    url = `http://127.0.0.1:${await freePort()}`;
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LAKESYNC_STATE_DIR: stateDir,
      HOST: '127.0.0.1',
      PORT: new URL(url).port,
      // Any free port: the default 9090 would clash with another dev stack's.
      GRPC_PORT: '0',
      // No TEMPORAL_ADDRESS or DATABASE_URL: dev starts its own Temporal dev server and embedded Postgres under the state dir.
      TEMPORAL_CLI_PATH: infra.temporalCli,
      TEMPORAL_UI_PORT: String(await freePort()),
      LAKESYNC_FS_ROOTS: tmpdir(),
      // 100 copies/s: the ingestion lasts long enough to be killed twice.
      WORKER_MAX_OBJECTS_PER_SECOND: '100',
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    if (dev) await stopProcess(dev);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('resumes the in-flight sync after each kill and completes it exactly; no server outlives its tether', async () => {
    const files = new Map<string, Buffer>();
    for (let i = 0; i < N; i++) files.set(`part-${i % 15}/obj-${String(i).padStart(5, '0')}.bin`, Buffer.from(`object ${i} `.repeat(1 + (i % 40))));
    await writeAll(srcDir, files);
    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);

    dev = await startDev();
    expect((await call(url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const src = await call(url, 'POST', `/${bucket}/sources`, {
      name: 'restarted',
      kind: 'filesystem',
      filesystem: { path: srcDir },
      batchSize: 25,
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const sourceId = src.body.sourceId as string;
    const jobId = (await call(url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {})).body.jobId as string;

    // 1. kill -9 of the dev process alone: the servers it started are left to their tethers.
    await waitFor('300 processed', async () => (await processed(jobId)) >= 300, 180_000, 50);
    const servers = (await descendants(dev.pid!)).filter((p) => p.pgrp === dev!.pid);
    expect(servers.map((p) => p.comm)).toEqual(expect.arrayContaining(['temporal', 'postgres']));
    const firstKill = await processed(jobId);
    expect(firstKill).toBeLessThan(N);
    process.kill(dev.pid!, 'SIGKILL');
    await waitFor('the Temporal dev server and Postgres to exit by themselves', async () => (await alive(servers.map((p) => p.pid))).length === 0, 60_000, 200);

    dev = await startDev();
    // The sync resumed: it moves on from where it was.
    await waitFor('the sync to move on', async () => (await processed(jobId)) >= Math.max(firstKill + 200, 800), 180_000, 50);
    const secondKill = await processed(jobId);
    expect(secondKill).toBeLessThan(N);

    // 2. kill -9 of the whole process group: dev, Temporal and Postgres die at once, with no chance to stop cleanly.
    const group = (await processes()).filter((p) => p.pgrp === dev!.pid).map((p) => p.pid);
    process.kill(-dev.pid!, 'SIGKILL');
    await waitFor('the process group gone', async () => (await alive(group)).length === 0, 60_000, 200);

    dev = await startDev();
    const { job, sync } = await waitForJob(url, bucket, sourceId, jobId, 240_000);
    expect(job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsDiscovered: N,
      objectsProcessed: N,
      objectsIndexed: N,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(sync).toMatchObject({ objectsDiscovered: String(N), objectsProcessed: String(N), objectsIndexed: String(N) });
    expect((await call(url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsDiscovered: N,
      totalObjectsSynced: N,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
    });
    expect(await tree(join(stateDir, 'lake', bucket))).toEqual(new Map([...files].map(([k, b]) => [k, sha256(b)])));

    // A clean stop still stops everything it started.
    const last = (await descendants(dev.pid!)).filter((p) => p.pgrp === dev!.pid).map((p) => p.pid);
    process.kill(dev.pid!, 'SIGTERM');
    expect(await new Promise((resolve) => dev!.once('exit', (code, signal) => resolve({ code, signal })))).toEqual({ code: 0, signal: null });
    await waitFor('everything it started to have stopped', async () => (await alive(last)).length === 0, 30_000, 100);
  });

  it('a second SIGTERM ends a dev that is draining a request at once, and its servers then stop with their tethers', async () => {
    dev = await startDev();
    const drained = dev;
    const started = (await descendants(drained.pid!)).filter((p) => p.pgrp === drained.pid);
    expect(started.map((p) => p.comm)).toEqual(expect.arrayContaining(['temporal', 'postgres']));
    const servers = started.map((p) => p.pid);
    const bucket2 = unique('kb-dev');
    expect((await call(url, 'POST', '/admin/buckets', { name: bucket2 })).status).toBe(201);
    // An upload whose second half never comes holds the API in its 30 s grace.
    const body = randomBytes(256 * 1024);
    const token = (await readFile(join(stateDir, 'dev-token'), 'utf8')).trim();
    const req = request(new URL(`/${bucket2}/held/blob.bin`, url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length), 'content-type': 'application/octet-stream' },
    });
    req.on('error', () => undefined);
    req.write(body.subarray(0, body.length / 2));
    const tmp = join(stateDir, 'lake', '.tmp');
    await waitFor('the first half in the lake', async () => {
      for (const f of await listFiles(tmp)) if ((await stat(join(tmp, f))).size >= body.length / 2) return true;
      return false;
    });
    const exited = new Promise((resolve) => drained.once('exit', (code, signal) => resolve({ code, signal })));

    drained.kill('SIGTERM');
    const firstAt = Date.now();
    await waitFor(
      'new connections refused',
      () =>
        fetch(`${url}/healthz`).then(
          () => false,
          () => true,
        ),
      30_000,
      20,
    );
    expect(drained.exitCode).toBeNull();
    // A repeat within 2 s is taken for npm relaying the first one (workers/dev.ts RELAYED_WITHIN_MS): a second one comes after.
    await new Promise((r) => setTimeout(r, Math.max(0, firstAt + 2_500 - Date.now())));
    expect(drained.exitCode).toBeNull();
    drained.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    req.destroy();
    await waitFor('the Temporal dev server and Postgres to exit by themselves', async () => (await alive(servers)).length === 0, 60_000, 200);
  });
});
