/**
 * Dependencies an outage test owns: a Temporal dev server, a Postgres or a
 * MinIO of its own (never the suite's, which other files share), each on a
 * port and a data directory it keeps, so stopping it and starting it again is
 * the same server at the same address with the same data.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { expect, inject } from 'vitest';
import { call, waitForJob } from './http.js';
import { activityReport, historyChain } from './history.js';
import type { TestLakesync } from './lakesync.js';
import { s3Sha, sha256, tree } from './objects.js';
import { freePort } from '../../infra/ports.js';
import { startEmbeddedPostgres } from '../../infra/postgres-server.js';
import { startMinio } from '../../infra/minio-server.js';
import { startFakeGcsServer } from '../../infra/fake-gcs-server.js';
import { startTemporalDevServer } from '../../infra/temporal-server.js';

export interface OwnServer<T> {
  /** How to reach it; the same before and after an outage. */
  readonly info: T;
  /** Stops the server gracefully (SIGTERM, or Postgres's fast shutdown). */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data, and resolves once it answers. */
  up(): Promise<void>;
  /** Stops it for good and deletes its data. */
  close(): Promise<void>;
}

/** The outage every test stages: long enough for every client to notice, and for retries to back off. */
export const OUTAGE_MS = 10_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const log = (m: string) => process.stderr.write(`[outage] ${m}\n`);

async function scratchDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `lakesync-outage-${label}-`));
  // Postgres runs as its own OS user when we are root: it must reach its data dir.
  await chmod(dir, 0o755);
  return dir;
}

/** Wraps a start function that is given the same port every time into down/up/close. */
async function ownServer<T, S extends { stop(): Promise<void> }>(label: string, start: (port: number, dir: string) => Promise<S>, infoOf: (s: S) => T) {
  const dir = await scratchDir(label);
  const port = await freePort();
  let running: S | undefined = await start(port, dir).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const server: OwnServer<T> = {
    info: infoOf(running),
    down: async () => {
      log(`${label} down`);
      await running?.stop();
      running = undefined;
    },
    up: async () => {
      running = await start(port, dir);
      log(`${label} up`);
    },
    close: async () => {
      await running?.stop();
      running = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A Temporal dev server whose workflows live in a SQLite file, so they survive its restart. */
export function ownTemporal(): Promise<OwnServer<{ address: string }>> {
  return ownServer(
    'temporal',
    (port, dir) =>
      startTemporalDevServer({
        binary: inject('infra').temporalCli,
        dbFilename: join(dir, 'temporal.db'),
        port,
        ui: false,
        log,
        // As the suite's server: continue-as-new comes early, so the run crosses it around the outage.
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 },
      }),
    (s) => ({ address: s.address }),
  );
}

/** A persistent embedded Postgres. */
export function ownPostgres(): Promise<OwnServer<{ adminUrl: string }>> {
  return ownServer(
    'postgres',
    (port, dir) => startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), persistent: true, port, log }),
    (s) => ({ adminUrl: s.url }),
  );
}

/** A MinIO that keeps its buckets and its root credentials across restarts. */
export async function ownMinio(): Promise<OwnServer<{ minio: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string } }>> {
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  return ownServer(
    'minio',
    async (port, dir) => {
      const m = await startMinio({ binary: inject('infra').minioBinary, dataDir: join(dir, 'data'), persistent: true, port, credentials, log });
      credentials ??= { accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey };
      return m;
    },
    (m) => ({ minio: { endpoint: m.endpoint, accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey, region: m.region } }),
  );
}

/** A fake-gcs-server that keeps its buckets and objects (on disk) across restarts. */
export function ownFakeGcs(): Promise<OwnServer<{ endpoint: string }>> {
  return ownServer(
    'gcs',
    (port, dir) => startFakeGcsServer({ binary: inject('infra').gcs.binary, port, dataDir: join(dir, 'data'), log }),
    (g) => ({ endpoint: g.endpoint }),
  );
}

/** A few thousand small objects under 20 folders, with what the lake must hold: key → sha256. */
export function smallCorpus(count: number): { files: Map<string, Buffer>; expected: Map<string, string>; bytes: number } {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) files.set(`part-${i % 20}/obj-${String(i).padStart(5, '0')}.bin`, randomBytes(100 + ((i * 7919) % 1900)));
  const expected = new Map([...files].map(([k, b]) => [k, sha256(b)]));
  return { files, expected, bytes: [...files.values()].reduce((n, b) => n + b.length, 0) };
}

/** The lake's objects under `<bucket>/<prefix>` with the sha256 of each, in a directory lake or an S3 lake. */
export async function lakeContents(ls: TestLakesync, bucket: string, prefix: string, s3?: S3Client): Promise<Map<string, string>> {
  if (ls.lake.kind === 'filesystem') return tree(join(ls.lake.dir, bucket, prefix));
  const lakeBucket = ls.lake.bucket;
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3!.send(new ListObjectsV2Command({ Bucket: lakeBucket, Prefix: `${bucket}/${prefix}/`, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  const out = new Map<string, string>();
  const limit = pLimit(16);
  await Promise.all(keys.map((k) => limit(async () => out.set(k.slice(bucket.length + prefix.length + 2), await s3Sha(s3!, lakeBucket, k)))));
  return out;
}

/**
 * A sync that lived through an outage ended as if nothing had happened: the
 * job succeeded with exact counters, the source is active with no failure
 * counted, nothing was dead-lettered, every object is ingested once, and no
 * activity failed for good (retries are expected: that is how it got through).
 */
export async function expectExactSync(
  ls: TestLakesync,
  o: { bucket: string; sourceId: string; jobId: string; count: number; bytes: number },
): Promise<Awaited<ReturnType<typeof waitForJob>>['job']> {
  const { job, sync } = await waitForJob(ls.url, o.bucket, o.sourceId, o.jobId, 180_000);
  expect(job).toMatchObject({
    status: 'JOB_STATUS_SUCCEEDED',
    objectsListed: o.count,
    objectsDiscovered: o.count,
    objectsNew: o.count,
    objectsProcessed: o.count,
    objectsFailed: 0,
    objectsSkipped: 0,
    bytesTransferred: o.bytes,
    error: null,
  });
  expect(sync).toMatchObject({ objectsDiscovered: String(o.count), objectsProcessed: String(o.count) });
  const source = (await call(ls.url, 'GET', `/${o.bucket}/sources/${o.sourceId}`)).body;
  expect(source).toMatchObject({
    status: 'SOURCE_STATUS_ACTIVE',
    consecutiveFailures: 0,
    totalObjectsDiscovered: o.count,
    totalObjectsSynced: o.count,
    totalObjectsFailed: 0,
    totalBytesSynced: o.bytes,
  });
  expect((await call(ls.url, 'GET', `/${o.bucket}/sources/${o.sourceId}/dead-letters`)).body.deadLetters).toEqual([]);
  const states = await ls.runtime.db.$client<{ ingested: number; total: number; mostAttempts: number }[]>`
    select count(*) filter (where status = 'ingested')::int as ingested, count(*)::int as total, max(attempts)::int as "mostAttempts"
    from source_objects where source_id = ${o.sourceId}`;
  // Each object's one attempt is its copy: none was charged a failed one, since an outage is not the object's fault.
  expect(states[0]).toEqual({ ingested: o.count, total: o.count, mostAttempts: 1 });
  const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
  expect(report.failed, report.retries.join('\n')).toBe(0);
  return job;
}

/**
 * Creates the outage tests' source (batches of 20 into `steady/`, no schedule
 * of its own) and starts its discovery: its id, its job's and a job reader.
 */
export async function startSteadySync(
  ls: TestLakesync,
  bucket: string,
  source: Record<string, unknown>,
): Promise<{ sourceId: string; jobId: string; job: () => Promise<Record<string, any>> }> {
  const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
    name: 'steady',
    batchSize: 20,
    targetPrefix: 'steady/',
    syncIntervalSeconds: 86400,
    ...source,
  });
  expect(src.status).toBe(201);
  const sourceId = src.body.sourceId as string;
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
  expect(started.status).toBe(200);
  const jobId = started.body.jobId as string;
  return { sourceId, jobId, job: async () => (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).body as Record<string, any> };
}
