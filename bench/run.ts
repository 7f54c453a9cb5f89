/**
 * `npm run bench`: lakesync side by side with rclone, s3sync, `aws s3 sync` and
 * a raw CopyObject loop, on the same MinIO data at the same concurrency, in one run.
 * `npm run bench -- --discovery-only` lists a million keys instead (with
 * `--s3-shards 1,4`, S3 keys in 1 and in 4 shards, bench/discovery-shards.ts);
 * `npm run bench -- --s3-endpoint` measures S3 clients against S3 endpoints
 * (bench/s3-endpoint.ts; `--files 200 --big-mib 64` for a quick smoke run);
 * `npm run bench -- --capacity` measures the per-key costs of the capacity
 * model (bench/capacity.ts; `--capacity-keys 100000`).
 * `npm run bench -- --freshness` measures PUT → readable in the lake with
 * change notifications (bench/freshness.ts; `--puts 50`).
 * `npm run bench -- --vector [--chunks 100000]` measures the local embedding
 * model and both vector indexes, exact scan and pgvector HNSW (bench/vector.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import postgres from 'postgres';
import { loadEnv } from '../config/env.js';
import { JOB_STATUS } from '../domain/statuses.js';
import { createS3Client } from '../activities/storage/s3-client.js';
import { findMinio, findTemporalCli } from '../infra/binaries.js';
import { installS3Clients } from '../infra/s3-clients.js';
import { installS3sync } from '../infra/s3sync.js';
import { startMinio } from '../infra/minio-server.js';
import { ensureDatabase, startEmbeddedPostgres } from '../infra/postgres-server.js';
import { startTemporalDevServer } from '../infra/temporal-server.js';
import { startApiProcess, startWorkerProcess, type WorkerProcess } from '../infra/worker-process.js';
import { cpuSnapshot, cpuSpent, settle } from './cpu.js';
import { s3ShardBench } from './discovery-shards.js';
import { startRuntime } from '../workers/app-runtime.js';
import { awsSync, copyLoop, rcloneSync, s3syncSync, s5cmdSync } from './peers.js';
import { printTable, writeResults, type Row } from './report.js';
import { freshnessBench } from './freshness.js';
import { printS3Table, s3EndpointBench, type S3BenchTarget } from './s3-endpoint.js';
import { temporalCost } from './temporal-cost.js';
import { WorkflowFailedError } from '@temporalio/client';
import { capacityModel } from './capacity.js';
import { vectorBench } from './vector.js';

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '20000' },
    size: { type: 'string', default: '4096' },
    large: { type: 'string', default: '3' },
    'large-size': { type: 'string', default: String(64 * 1024 * 1024) },
    concurrency: { type: 'string', default: '32' },
    'changed-percent': { type: 'string', default: '1' },
    /** Runs of each tool in each resync scenario; the table shows the median (the full sync runs once). */
    reps: { type: 'string', default: '3' },
    'discovery-only': { type: 'boolean', default: false },
    capacity: { type: 'boolean', default: false },
    'capacity-keys': { type: 'string', default: '100000' },
    keys: { type: 'string', default: '1000000' },
    /** With --discovery-only: list S3 keys on MinIO with each of these shard counts, beside a raw ListObjectsV2 loop (bench/discovery-shards.ts). */
    's3-shards': { type: 'string' },
    'skip-peers': { type: 'boolean', default: false },
    'worker-heap-mb': { type: 'string', default: '384' },
    /** NODE_OPTIONS of the S3 endpoint's API process, e.g. `--max-old-space-size=256` to trade CPU for RSS. */
    'api-node-options': { type: 'string', default: '' },
    /** Write V8 CPU profiles of the worker and API processes (open them in Chrome DevTools) under bench/profiles/. */
    profile: { type: 'boolean', default: false },
    's3-endpoint': { type: 'boolean', default: false },
    freshness: { type: 'boolean', default: false },
    puts: { type: 'string', default: '50' },
    files: { type: 'string', default: '5000' },
    'file-kib': { type: 'string', default: '64' },
    'big-mib': { type: 'string', default: '1024' },
    vector: { type: 'boolean', default: false },
    chunks: { type: 'string', default: '100000' },
  },
});

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const MiB = 1024 * 1024;
const env = loadEnv();
const cleanups: (() => Promise<unknown>)[] = [];

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), 'lakesync-bench-'));
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
  const { chmod } = await import('node:fs/promises');
  await chmod(scratch, 0o755);
  if (args.vector) return vectorBench({ scratch, chunks: Number(args.chunks), cacheDir: env.LAKESYNC_CACHE_DIR, log, cleanups });
  const lookup = { searchPath: env.PATH, cacheDir: env.LAKESYNC_CACHE_DIR, log };
  log('building dist/ (npm run build): the processes run the compiled code');
  await promisify(execFile)('npm', ['run', 'build'], { cwd: new URL('..', import.meta.url).pathname });
  const [temporalCli, minioBin] = await Promise.all([
    findTemporalCli({ ...lookup, explicitPath: env.TEMPORAL_CLI_PATH }),
    findMinio({ ...lookup, explicitPath: env.MINIO_PATH }),
  ]);
  // The same pinned clients the tests use, never whatever is on PATH.
  const clientsWanted = args['s3-endpoint'] || (!args['discovery-only'] && !args.capacity && !args.freshness && !args['skip-peers']);
  const clients = clientsWanted
    ? installS3Clients({
        cacheDir: env.LAKESYNC_CACHE_DIR,
        overrides: { aws: env.LAKESYNC_AWS_CLI_PATH, python: env.LAKESYNC_BOTO3_PYTHON, s5cmd: env.LAKESYNC_S5CMD_PATH, rclone: env.LAKESYNC_RCLONE_PATH },
        log,
      })
    : undefined;
  clients?.catch(() => undefined); // awaited where used; a failure must not crash before the cleanups run
  // s3sync is built (minutes, once per cache) while everything else starts; a sync benchmark without it says why.
  const s3syncWanted = !args['s3-endpoint'] && !args['discovery-only'] && !args.capacity && !args.freshness && !args['skip-peers'];
  const s3sync = s3syncWanted
    ? installS3sync({ cacheDir: env.LAKESYNC_CACHE_DIR, explicitPath: env.LAKESYNC_S3SYNC_PATH, log }).catch((err: unknown) => {
        log(`s3sync: skipped, it could not be installed: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      })
    : null;
  const [temporal, pg, minio] = await Promise.all([
    startTemporalDevServer({ binary: temporalCli, ui: false, log }),
    startEmbeddedPostgres({
      dataDir: join(scratch, 'postgres'),
      persistent: false,
      // The capacity model reads each statement's time and blocks from pg_stat_statements.
      settings: args.capacity ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : {},
      log,
    }),
    startMinio({ binary: minioBin, dataDir: join(scratch, 'minio'), log }),
  ]);
  cleanups.push(
    () => temporal.stop(),
    () => pg.stop(),
    () => minio.stop(),
  );
  await ensureDatabase(pg.url, 'bench');
  const databaseUrl = pg.urlFor('bench');

  const profile = args.profile
    ? ` --cpu-prof --cpu-prof-dir=${new URL(`./profiles/${new Date().toISOString().replace(/[:.]/g, '-')}`, import.meta.url).pathname}`
    : '';
  if (profile) log(`CPU profiles go to${profile.split('=')[1]}`);
  const s3 = createS3Client({ ...minio, forcePathStyle: true, maxSockets: 256 });
  const concurrency = Number(args.concurrency);
  const batchConcurrency = 4;
  const secretKey = randomBytes(32).toString('base64');
  const vars = {
    TEMPORAL_ADDRESS: temporal.address,
    DATABASE_URL: databaseUrl,
    LAKESYNC_SECRET_KEY: secretKey,
    TEMPORAL_TASK_QUEUE: 'bench',
    LAKE_STORAGE: 's3',
    LAKE_S3_ENDPOINT: minio.endpoint,
    LAKE_S3_BUCKET: 'lake-bench',
    LAKE_S3_ACCESS_KEY_ID: minio.accessKeyId,
    LAKE_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
    WORKER_BATCH_CONCURRENCY: String(batchConcurrency),
    WORKER_OBJECT_CONCURRENCY: String(Math.max(1, Math.round(concurrency / batchConcurrency))),
    // The bundle `npm run build` just wrote, as `npm run worker` runs it, whatever this shell exports.
    WORKFLOW_BUNDLE_PATH: join(new URL('..', import.meta.url).pathname, 'dist', 'workflow-bundle.js'),
    LOG_LEVEL: 'info',
    PORT: '0',
    GRPC_PORT: '0',
    // A production worker runs with a capped heap (README: "Scaling workers"); V8 otherwise grows lazily toward gigabytes.
    NODE_OPTIONS: `--max-old-space-size=${args['worker-heap-mb']}${profile}`,
  };
  for (const b of [
    'src',
    'lake-bench',
    'dst-rclone',
    'dst-rclone-checksum',
    'dst-s3sync',
    'dst-s3sync-etag',
    'dst-s5cmd',
    'dst-s5cmd-256',
    'dst-aws',
    'dst-copy',
  ])
    await s3.send(new CreateBucketCommand({ Bucket: b }));
  const authSecret = randomBytes(32).toString('base64url');
  const token = await new SignJWT({ org: 'bench', scope: 'read write admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1d')
    .sign(new TextEncoder().encode(authSecret));
  const api = await startRuntime({
    env: loadEnv({ ...vars, LOG_LEVEL: 'silent' }),
    temporalAddress: temporal.address,
    databaseUrl,
    secretKey,
    authSecret,
    log: pino({ level: 'silent' }),
    runApi: true,
    runWorker: false,
  });
  cleanups.push(() => api.stop());
  // The processes run the compiled build, as `npm start` and `npm run worker` do in production.
  const worker: WorkerProcess = await startWorkerProcess(vars, { built: true });
  cleanups.push(() => worker.kill('SIGTERM'));
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  cleanups.push(() => sql.end());

  const callApi = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /**
   * A job's end: its row is read every 20 ms until the job's workflow has
   * started, then the workflow's result is awaited (a long poll), then the
   * row again (every 20 ms should the workflow have closed without finishing
   * its job, which the controller then does). The benchmark used to read the
   * row every 50 ms throughout: up to 50 ms late, and every 10 ms cost the
   * bench process and Postgres a fifth of a core, taken from the run measured.
   */
  const waitJob = async (jobId: string, limitMs = 30 * 60_000) => {
    const deadline = performance.now() + limitMs;
    let ended = false;
    for (;;) {
      const [job] = await sql`select status, finished_at, started_at, workflow_id, objects_listed, objects_discovered from jobs where id = ${jobId}`;
      if (job?.finished_at) return job;
      if (performance.now() > deadline) throw new Error(`job ${jobId} not finished after ${limitMs / 1000} s: ${String(job?.status)}`);
      if (job?.workflow_id && !ended) {
        await api.temporal.workflow
          .getHandle(String(job.workflow_id))
          .result()
          .catch((err: unknown) => {
            // A workflow that failed or was cancelled has closed too; anything else is the wait's own failure.
            if (!(err instanceof WorkflowFailedError)) throw err;
          });
        ended = true;
      } else await new Promise((r) => setTimeout(r, 20));
    }
  };
  await callApi('POST', '/admin/buckets', { name: 'bench' });

  if (args['s3-endpoint'] && clients) {
    await s3.send(new CreateBucketCommand({ Bucket: 'bench-s3' }));
    // lakesync's S3 endpoint in an API process of its own, so its peak RSS is the API's alone; the worker ingests behind it.
    // The worker's heap cap is the worker's (README: "Scaling workers"); the API runs with V8's defaults.
    const apiProcess = await startApiProcess({ ...vars, NODE_OPTIONS: args['api-node-options'] + profile, LAKESYNC_AUTH_SECRET: authSecret }, { built: true });
    cleanups.push(() => apiProcess.kill('SIGTERM'));
    const key = (await callApi('POST', '/admin/keys', { scopes: ['read', 'write'] })) as { accessKeyId: string; secretAccessKey: string };
    const targets: S3BenchTarget[] = [
      {
        name: 'MinIO direct',
        endpoint: { url: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, region: minio.region },
        bucket: 'bench-s3',
      },
      {
        name: 'lakesync',
        endpoint: { url: apiProcess.url, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, region: 'us-east-1' },
        bucket: 'bench',
        pid: apiProcess.child.pid,
      },
    ];
    const params = { files: Number(args.files), fileKiB: Number(args['file-kib']), bigMiB: Number(args['big-mib']), concurrency };
    const cpu = () => cpuSnapshot(worker.child.pid, { 'lakesync API': apiProcess.child.pid });
    const rows = await s3EndpointBench({ ...params, targets, tools: await clients, scratch: join(scratch, 's3-endpoint'), cpu, log });
    printS3Table(rows);
    // Only the full size is a result; a smoke run (smaller knobs) is for trying the harness.
    if (params.files === 5000 && params.fileKiB === 64 && params.bigMiB === 1024) await writeResults('s3-endpoint', params, rows);
    else log('smoke run (not 5000 × 64 KiB and 1024 MiB): results not written');
    return;
  }

  if (args.capacity) {
    const keys = Number(args['capacity-keys']);
    const { sizes, phases } = await capacityModel({
      keys,
      dir: join(scratch, 'capacity'),
      sql,
      client: api.temporal,
      workerPid: worker.child.pid,
      callApi,
      log,
    });
    const rows: Row[] = phases.map((p) => ({ tool: 'lakesync', scenario: p.phase, seconds: p.seconds, objects: p.objectsListed, cpuSeconds: p.cpuSeconds }));
    await writeResults('capacity', { keys, concurrency }, rows, { sizes, phases });
    return;
  }

  if (args.freshness) {
    const pollIntervalSeconds = 3600;
    const fresh = await freshnessBench({
      minioBinary: minioBin,
      credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      apiUrl: api.url!,
      callApi,
      lake: { s3, bucket: 'lake-bench', prefix: 'bench' },
      puts: Number(args.puts),
      pollIntervalSeconds,
      log,
      cleanups,
    });
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    console.table([
      { notifications: 'webhook (MinIO → events route)', PUTs: fresh.samples.length, p50: ms(fresh.p50), p99: ms(fresh.p99), max: ms(fresh.max) },
      {
        notifications: `off (poll every ${pollIntervalSeconds} s)`,
        PUTs: '',
        p50: `${pollIntervalSeconds / 2} s`,
        p99: `${pollIntervalSeconds * 0.99} s`,
        max: `${pollIntervalSeconds} s`,
      },
    ]);
    const rows: Row[] = fresh.samples.map((seconds, i) => ({ tool: 'lakesync', scenario: `freshness PUT ${i}`, seconds, objects: 1 }));
    await writeResults('freshness', { puts: fresh.samples.length, p50: fresh.p50, p99: fresh.p99, max: fresh.max }, rows);
    return;
  }

  if (args['discovery-only'] && args['s3-shards']) {
    const keys = Number(args.keys);
    const counts = args['s3-shards'].split(',').map(Number);
    const rows = await s3ShardBench({ s3, sql, minio, callApi, waitJob, log }, keys, counts);
    printTable(rows);
    await writeResults('discovery-shards', { keys, concurrency }, rows);
    return;
  }

  if (args['discovery-only']) {
    const keys = Number(args.keys);
    const dir = join(scratch, 'keys');
    log(`writing ${keys} files to list`);
    const perDir = 1000;
    for (let d = 0; d * perDir < keys; d++) {
      await mkdir(join(dir, `d${String(d).padStart(5, '0')}`), { recursive: true });
      const limit = pLimit(64);
      await Promise.all(
        Array.from({ length: Math.min(perDir, keys - d * perDir) }, (_, f) => limit(() => writeFile(join(dir, `d${String(d).padStart(5, '0')}`, `k${f}`), ''))),
      );
    }
    const source = await callApi('POST', '/bench/sources', {
      name: 'keys',
      kind: 'filesystem',
      filesystem: { path: dir },
      maxObjectsPerRun: 1,
      syncIntervalSeconds: 86400,
    });
    const rssBefore = await worker.peakRss();
    const started = await callApi('POST', `/bench/sources/${source.sourceId}/discover`, {});
    // The scan is done when the last page is recorded; what follows (one capped copy) is not discovery.
    let scanned: Date | null = null;
    while (!scanned) {
      const [row] = await sql`select started_at, objects_listed from jobs where id = ${String(started.jobId)}`;
      if (row && Number(row.objects_listed) >= keys) scanned = new Date();
      else await new Promise((r) => setTimeout(r, 100));
    }
    const scanPeak = await worker.peakRss();
    const job = await waitJob(String(started.jobId));
    const seconds = (scanned.getTime() - job.started_at.getTime()) / 1000;
    const rows: Row[] = [
      {
        tool: 'lakesync',
        scenario: `discover ${keys} keys (first scan: every key inserted)`,
        seconds,
        objects: Number(job.objects_listed),
        peakRssMiB: scanPeak / MiB,
      },
    ];
    // The first run ingested one object and left the rest owed; a dry run re-lists and diffs every key with reads only.
    const again = await callApi('POST', `/bench/sources/${source.sourceId}/discover`, { dryRun: true });
    const rescanStart = Date.now();
    const rejob = await waitJob(String(again.jobId));
    rows.push({
      tool: 'lakesync',
      scenario: `re-list and diff ${keys} keys (dry run)`,
      seconds: (Date.now() - rescanStart) / 1000,
      objects: Number(rejob.objects_listed),
      peakRssMiB: (await worker.peakRss()) / MiB,
    });
    printTable(rows);
    log(`worker peak RSS ${(scanPeak / MiB).toFixed(0)} MiB during the first scan (${(rssBefore / MiB).toFixed(0)} MiB before it)`);
    await writeResults('discovery', { keys, concurrency }, rows);
    return;
  }

  const count = Number(args.objects);
  const size = Number(args.size);
  const large = Number(args.large);
  log(`writing ${count} × ${size} B objects and ${large} × ${(Number(args['large-size']) / MiB).toFixed(0)} MiB objects to the source bucket`);
  const put = pLimit(64);
  const keys: string[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const key = `data/${String(i % 100).padStart(3, '0')}/obj-${String(i).padStart(7, '0')}.bin`;
      keys.push(key);
      return put(() => s3.send(new PutObjectCommand({ Bucket: 'src', Key: key, Body: randomBytes(size) })));
    }),
  );
  for (let i = 0; i < large; i++)
    await s3.send(new PutObjectCommand({ Bucket: 'src', Key: `large/big-${i}.bin`, Body: randomBytes(Number(args['large-size'])) }));
  const total = count + large;

  const source = await callApi('POST', '/bench/sources', {
    name: 'bench',
    kind: 's3',
    s3: { endpoint: minio.endpoint, bucket: 'src', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true },
    batchSize: 200,
    maxObjectsPerRun: 10_000_000,
    syncIntervalSeconds: 86400,
  });
  /** The jobs lakesync ran, one per scenario, for their Temporal cost. */
  const lakesyncJobs: { scenario: string; jobId: string }[] = [];
  let scenarioNow = '';
  let lastJobId = '';
  const lakesync = async () => {
    const started = await callApi('POST', `/bench/sources/${source.sourceId}/discover`, {});
    lastJobId = String(started.jobId);
    // The Temporal cost is the scenario's first job's (the repetitions of a resync cost the same).
    if (!lakesyncJobs.some((j) => j.scenario === scenarioNow)) lakesyncJobs.push({ scenario: scenarioNow, jobId: lastJobId });
    const job = await waitJob(lastJobId);
    if (job.status !== JOB_STATUS.succeeded) throw new Error(`lakesync job ${lastJobId} ended ${job.status}`);
  };
  /** The last job's phases, read after its run is timed (the query reads every object of the source). */
  const lakesyncPhases = async () => {
    const [t] = await sql`select j.created_at, j.started_at, j.finished_at, min(so.ingested_at) as first_copy, max(so.ingested_at) as last_copy
      from jobs j left join source_objects so on so.last_job_id = j.id and so.ingested_at >= j.started_at where j.id = ${lastJobId} group by j.id`;
    if (t)
      log(
        `lakesync phases: queued ${t.started_at - t.created_at} ms, scan+plan ${t.first_copy ? t.first_copy - t.started_at : 0} ms, copies ${t.last_copy ? t.last_copy - t.first_copy : 0} ms, wrap-up ${t.last_copy ? t.finished_at - t.last_copy : 0} ms`,
      );
  };

  const rclone = clients ? (await clients).rclone : null;
  const aws = clients ? (await clients).aws : null;
  const s5cmd = clients ? (await clients).s5cmd : null;
  const s3syncBin = await s3sync;
  const tools: { name: string; run: () => Promise<unknown>; after?: () => Promise<void> }[] = [
    { name: 'lakesync', run: lakesync, after: lakesyncPhases },
    ...(rclone
      ? [
          { name: 'rclone sync', run: () => rcloneSync(rclone, minio, 'src', 'dst-rclone', concurrency) },
          { name: 'rclone sync --checksum', run: () => rcloneSync(rclone, minio, 'src', 'dst-rclone-checksum', concurrency, ['--checksum']) },
        ]
      : []),
    ...(s3syncBin
      ? [
          { name: 's3sync', run: () => s3syncSync(s3syncBin, minio, 'src', 'dst-s3sync', concurrency) },
          { name: 's3sync --check-etag', run: () => s3syncSync(s3syncBin, minio, 'src', 'dst-s3sync-etag', concurrency, ['--check-etag']) },
        ]
      : []),
    ...(s5cmd
      ? [
          { name: 's5cmd sync', run: () => s5cmdSync(s5cmd, minio, 'src', 'dst-s5cmd', concurrency) },
          { name: 's5cmd sync (256)', run: () => s5cmdSync(s5cmd, minio, 'src', 'dst-s5cmd-256', 256) },
        ]
      : []),
    ...(aws ? [{ name: 'aws s3 sync', run: () => awsSync(aws, minio, 'src', 'dst-aws', concurrency) }] : []),
  ];

  const rows: Row[] = [];
  const reps = Number(args.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps ${args.reps}: give a whole number of runs, at least 1`);
  /**
   * Each tool once per repetition, on a settled machine, starting one tool
   * later each time so no tool always runs first after the heavy scenario
   * before; the row is the median run (its CPU with it), every run listed.
   */
  const measure = async (scenario: string, objects: number, repetitions: number, beforeRep: (rep: number) => Promise<void> = async () => {}) => {
    scenarioNow = scenario;
    const runs = new Map<string, { seconds: number; cpu: Record<string, number> }[]>();
    for (let rep = 0; rep < repetitions; rep++) {
      await beforeRep(rep);
      for (const tool of tools.map((_, i) => tools[(i + rep) % tools.length]!)) {
        const waited = await settle(worker.child.pid);
        log(`${tool.name}: ${scenario}${repetitions > 1 ? ` (run ${rep + 1} of ${repetitions})` : ''}, after ${waited.toFixed(1)} s settling`);
        const before = await cpuSnapshot(worker.child.pid);
        const seconds = await timed(tool.run);
        const cpu = cpuSpent(before, await cpuSnapshot(worker.child.pid));
        await tool.after?.();
        log(
          `${tool.name}: ${seconds.toFixed(2)} s; CPU seconds: ${Object.entries(cpu)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
        runs.set(tool.name, [...(runs.get(tool.name) ?? []), { seconds, cpu }]);
      }
    }
    for (const tool of tools) {
      const all = runs.get(tool.name)!;
      const median = [...all].sort((a, b) => a.seconds - b.seconds)[Math.floor(all.length / 2)]!;
      rows.push({
        tool: tool.name,
        scenario,
        seconds: median.seconds,
        ...(all.length > 1 ? { runs: all.map((r) => Math.round(r.seconds * 1000) / 1000) } : {}),
        objects,
        peakRssMiB: tool.name === 'lakesync' ? (await worker.peakRss()) / MiB : undefined,
        cpuSeconds: median.cpu,
      });
    }
  };
  await measure('full sync', total, 1);
  await settle(worker.child.pid);
  log('CopyObject loop: full sync (ceiling)');
  const loopBefore = await cpuSnapshot(worker.child.pid);
  const loopSeconds = await timed(() => copyLoop(s3, 'src', 'dst-copy', concurrency));
  rows.push({
    tool: 'CopyObject loop (ceiling)',
    scenario: 'full sync',
    seconds: loopSeconds,
    objects: total,
    cpuSeconds: cpuSpent(loopBefore, await cpuSnapshot(worker.child.pid)),
  });
  await measure('no-change resync', total, reps);
  // Each repetition changes its own slice of the keys (every step-th key, shifted by one per repetition), for every tool alike.
  const step = Math.round(100 / Number(args['changed-percent']));
  let changed = 0;
  await measure(`${args['changed-percent']}%-changed resync`, total, reps, async (rep) => {
    const slice = keys.filter((_, i) => i % step === rep % step);
    await Promise.all(slice.map((key) => put(() => s3.send(new PutObjectCommand({ Bucket: 'src', Key: key, Body: randomBytes(size) })))));
    changed = slice.length;
  });

  printTable(rows);
  // What Temporal Cloud would bill: each job's actions, and an idle poll's once the source polls every 5 s.
  await temporalCost({ client: api.temporal, sql, sourceId: String(source.sourceId), jobs: lakesyncJobs, objects: total, callApi, log });
  await writeResults('sync', { objects: count, size, large, largeSize: Number(args['large-size']), concurrency, changed, reps }, rows);
}

main()
  .catch((err) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });
