/**
 * lakesync on a production-shaped Temporal: a cluster of four server
 * processes (frontend, history, matching, worker) on Postgres with SQL
 * visibility, started from config/temporal-server.yaml (the file
 * docker-compose.yml mounts), the namespace and search attributes registered
 * with the `temporal` CLI as the README says. Two API processes and two worker
 * processes share it and an S3 lake in MinIO. A 5,000-object S3 source is
 * synced through API replica A and followed through replica B; the `temporal`
 * CLI pauses and resumes it; one worker is SIGKILLed and the history service
 * restarted in the middle of the ingestion; the lake comes out byte-exact and
 * every counter exact, and the README's visibility queries answer from SQL
 * visibility.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { SignJWT } from 'jose';
import pLimit from 'p-limit';
import postgres from 'postgres';
import { call, setDefaultToken, waitFor, waitForJob } from '../support/http.js';
import { minioClient, unique } from '../support/lakesync.js';
import { putAll, s3Sha, sha256 } from '../support/objects.js';
import { activityReport, historyChain } from '../support/history.js';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { startTemporalCluster, type TemporalCluster } from '../../infra/temporal-cluster.js';
import { TEMPORAL_SERVER_VERSION } from '../../infra/temporal-server-build.js';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { controllerWorkflowId, syncRunWorkflowId } from '../../workflows/shared.js';

const run = promisify(execFile);
const log = (m: string) => process.stderr.write(`[cluster] ${m}\n`);
const COUNT = 5000;

describe('lakesync on a Temporal cluster', () => {
  const infra = inject('infra');
  let cluster: TemporalCluster;
  let s3: S3Client;
  let sql: postgres.Sql;
  let a: ApiProcess;
  let b: ApiProcess;
  let workers: WorkerProcess[] = [];
  const lakeBucket = unique('lake');
  const sourceBucket = unique('src');
  const bucket = unique('kb');
  const files = new Map<string, Buffer>();
  for (let i = 0; i < COUNT; i++) files.set(`part-${i % 25}/obj-${String(i).padStart(5, '0')}.bin`, randomBytes(64 + ((i * 7919) % 1500)));
  const bytes = [...files.values()].reduce((n, f) => n + f.length, 0);

  /** The real `temporal` CLI against the cluster's frontend, as an operator types it. */
  const temporal = async (...args: string[]) =>
    (await run(infra.temporalCli, [...args, '--address', cluster.address, '--namespace', cluster.namespace], { timeout: 60_000 })).stdout;
  const listWorkflows = async (query: string) =>
    (await temporal('workflow', 'list', '--query', query, '--output', 'jsonl'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { execution: { workflowId: string }; status: string });

  beforeAll(async () => {
    const namespace = unique('lakesync');
    s3 = minioClient();
    for (const name of [lakeBucket, sourceBucket]) await s3.send(new CreateBucketCommand({ Bucket: name }));
    // The source is uploaded while the cluster starts; both settle before a failure is thrown, so afterAll stops a started cluster.
    const [started, uploaded] = await Promise.allSettled([
      startTemporalCluster({ tools: infra.temporalServer, temporalCli: infra.temporalCli, postgresAdminUrl: infra.postgresAdminUrl, namespace, log }),
      putAll(s3, sourceBucket, '', files),
    ]);
    if (started.status === 'fulfilled') cluster = started.value;
    for (const r of [started, uploaded]) if (r.status === 'rejected') throw r.reason;
    const dbName = unique('lakesync_cluster').replace(/-/g, '_');
    await ensureDatabase(infra.postgresAdminUrl, dbName);
    const databaseUrl = infra.postgresAdminUrl.replace(/\/postgres$/, `/${dbName}`);
    sql = postgres(databaseUrl, { max: 2, onnotice: () => undefined });
    const authSecret = randomBytes(32).toString('base64url');
    const env = {
      // As production runs: strict egress, which admits the loopback MinIO source only when told.
      NODE_ENV: 'production',
      LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32',
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: unique('lakesync'),
      LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
      LAKESYNC_AUTH_SECRET: authSecret,
      LAKE_STORAGE: 's3',
      LAKE_S3_ENDPOINT: infra.minio.endpoint,
      LAKE_S3_BUCKET: lakeBucket,
      LAKE_S3_ACCESS_KEY_ID: infra.minio.accessKeyId,
      LAKE_S3_SECRET_ACCESS_KEY: infra.minio.secretAccessKey,
      WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
      WORKER_BATCH_CONCURRENCY: '4',
      WORKER_OBJECT_CONCURRENCY: '8',
      // Neither worker alone can take the ingestion, and it lasts long enough to be disturbed three times.
      WORKER_MAX_OBJECTS_PER_SECOND: '150',
    };
    // Replica A migrates the database first; the rest start together on it.
    a = await startApiProcess(env);
    [b, ...workers] = await Promise.all([startApiProcess(env), startWorkerProcess(env), startWorkerProcess(env)]);
    const token = await new SignJWT({ org: 'test-org', scope: 'read write admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('cluster-test')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(authSecret));
    for (const api of [a, b]) setDefaultToken(api.url, token);
  });
  afterAll(async () => {
    for (const p of [...workers, a, b]) await p?.kill('SIGKILL');
    await sql?.end();
    await cluster?.stop();
  });

  it('runs the pinned server version, which the README names', async () => {
    const { stdout } = await run(infra.temporalCli, ['operator', 'cluster', 'system', '--address', cluster.address, '--output', 'json'], { timeout: 60_000 });
    expect(JSON.parse(stdout).serverVersion).toBe(TEMPORAL_SERVER_VERSION.replace(/^v/, ''));
  });

  it('syncs 5,000 S3 objects exactly through a pause, a SIGKILLed worker and a history restart', async () => {
    expect(a.url).not.toBe(b.url);
    expect((await call(a.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const src = await call(a.url, 'POST', `/${bucket}/sources`, {
      name: 'cluster',
      kind: 's3',
      s3: {
        endpoint: infra.minio.endpoint,
        region: infra.minio.region,
        bucket: sourceBucket,
        accessKeyId: infra.minio.accessKeyId,
        secretAccessKey: infra.minio.secretAccessKey,
        forcePathStyle: true,
      },
      batchSize: 50,
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const sourceId = src.body.sourceId as string;
    const started = await call(a.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    const jobId = started.body.jobId as string;
    // Everything from here on is read through the other replica.
    const job = async () => (await call(b.url, 'GET', `/${bucket}/jobs/${jobId}`)).body as Record<string, any>;
    const processed = async () => Number((await job()).objectsProcessed ?? 0);

    // Paused with the operator's CLI: once the batches in flight are done, nothing more lands and every copy is counted.
    await waitFor('500 objects copied', async () => (await processed()) >= 500, 120_000, 100);
    await temporal('workflow', 'signal', '--workflow-id', controllerWorkflowId(sourceId), '--name', 'pause', '--input', '{"reason":"cluster maintenance"}');
    const paused = await waitFor('paused through replica B', async () => {
      const s = (await call(b.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body;
      return s.status === 'SOURCE_STATUS_PAUSED' && s;
    });
    expect(paused.pauseReason).toBe('cluster maintenance');
    await waitFor(
      'the batches in flight to finish',
      async () => {
        const runPaused = JSON.parse(await temporal('workflow', 'query', '--workflow-id', syncRunWorkflowId(jobId), '--name', 'paused', '--output', 'json'));
        if (runPaused.queryResult?.[0] !== true) return false;
        const described = JSON.parse(await temporal('workflow', 'describe', '--workflow-id', syncRunWorkflowId(jobId), '--output', 'json'));
        return !(described.pendingActivities ?? []).some((p: { activityType?: { name?: string } }) =>
          ['ingestBatch', 'processBatch'].includes(p.activityType?.name ?? ''),
        );
      },
      90_000,
      250,
    );
    const frozen = await processed();
    expect(frozen).toBeLessThan(COUNT);
    expect(await lakeKeyCount()).toBe(frozen);
    await temporal('workflow', 'signal', '--workflow-id', controllerWorkflowId(sourceId), '--name', 'resume');
    await waitFor('resumed', async () => (await call(b.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body.status === 'SOURCE_STATUS_ACTIVE');

    // A worker dies without a word; its batches time out and the other worker finishes them.
    await waitFor(`${frozen + 1000} objects copied`, async () => (await processed()) >= frozen + 1000, 180_000, 100);
    // The worker killed is one copying batches now: which worker takes a batch is the matching service's choice (and a
    // worker with free slots is handed its own workflow's batches eagerly), so the test looks rather than guesses.
    const victim = await waitFor('a worker holding batches', async () => {
      const described = JSON.parse(await temporal('workflow', 'describe', '--workflow-id', syncRunWorkflowId(jobId), '--output', 'json'));
      const holders = (described.pendingActivities ?? [])
        .filter(
          (p: { activityType?: { name?: string }; state?: string }) => p.activityType?.name === 'ingestBatch' && p.state === 'PENDING_ACTIVITY_STATE_STARTED',
        )
        .map((p: { lastWorkerIdentity?: string }) => p.lastWorkerIdentity ?? '');
      return workers.find((w) => holders.some((id: string) => id.startsWith(`${w.child.pid}@`))) ?? false;
    });
    await victim.kill('SIGKILL');
    log(`worker ${victim.child.pid} SIGKILLed at ${await processed()} objects`);

    // The history service, which owns every workflow's state, goes down and comes back.
    const atKill = await processed();
    await waitFor(`${atKill + 500} objects copied`, async () => (await processed()) >= atKill + 500, 180_000, 100);
    expect(await processed()).toBeLessThan(COUNT);
    const historyPid = cluster.services.history.pid();
    await cluster.services.history.down();
    log(`history down at ${await processed()} objects`);
    await cluster.services.history.up();
    expect(cluster.services.history.pid()).not.toBe(historyPid);

    const done = await waitForJob(b.url, bucket, sourceId, jobId, 300_000);
    expect(done.job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: COUNT,
      objectsDiscovered: COUNT,
      objectsNew: COUNT,
      objectsProcessed: COUNT,
      objectsFailed: 0,
      objectsSkipped: 0,
      bytesTransferred: bytes,
    });
    expect(done.sync).toMatchObject({ status: 'SOURCE_STATUS_ACTIVE', objectsDiscovered: String(COUNT), objectsProcessed: String(COUNT) });
    expect((await call(b.url, 'GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({
      totalObjectsDiscovered: COUNT,
      totalObjectsSynced: COUNT,
      totalObjectsFailed: 0,
      totalBytesSynced: bytes,
      // One run, and each of its 100 batches counted once though some ran twice.
      runCounter: 1,
      batchesCreated: COUNT / 50,
    });
    expect((await call(b.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.deadLetters).toEqual([]);
    const [states] =
      await sql`select count(*) filter (where status = 'ingested')::int as ingested, count(*)::int as total from source_objects where source_id = ${sourceId}`;
    expect(states).toEqual({ ingested: COUNT, total: COUNT });
    expect(await lakeContents()).toEqual(new Map([...files].map(([k, f]) => [k, sha256(f)])));

    // From the cluster's history: both workers completed batches, each batch completed once, none failed.
    const connection = await Connection.connect({ address: cluster.address });
    try {
      const history = await historyChain(new Client({ connection, namespace: cluster.namespace }), done.job.workflowId, done.job.runId);
      const report = activityReport(history);
      log(`history: ${report.retried} batches retried (${report.retries.join('; ')})`);
      expect(report.failed, report.retries.join('\n')).toBe(0);
      // The killed worker held batches (it was chosen for that): later attempts finished them.
      expect(report.retried).toBeGreaterThan(0);
      expect(report.completed.get('ingestBatch')).toBe(COUNT / 50);
      for (const w of workers) expect([...report.batchesByIdentity.keys()].some((id) => id.startsWith(`${w.child.pid}@`))).toBe(true);
    } finally {
      await connection.close();
    }

    // The README's visibility queries, answered by the cluster's SQL visibility store.
    const bySource = await listWorkflows(`LakesyncSourceId="${sourceId}"`);
    const ids = new Set(bySource.map((w) => w.execution.workflowId));
    expect(ids).toEqual(new Set([controllerWorkflowId(sourceId), syncRunWorkflowId(jobId)]));
    const running = await listWorkflows(`LakesyncBucket="${bucket}" AND ExecutionStatus="Running"`);
    expect(running.map((w) => w.execution.workflowId)).toEqual([controllerWorkflowId(sourceId)]);
    const visibility = postgres(infra.postgresAdminUrl.replace(/\/postgres$/, `/${cluster.databases.visibility}`), { max: 1, onnotice: () => undefined });
    try {
      const rows = await visibility`select distinct workflow_id from executions_visibility where workflow_id in ${visibility([...ids])}`;
      expect(new Set(rows.map((r) => r.workflow_id as string))).toEqual(ids);
    } finally {
      await visibility.end();
    }
  });

  /** Every lake object under the bucket's folder: how many. */
  async function lakeKeys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: lakeBucket, Prefix: `${bucket}/`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  }
  async function lakeKeyCount(): Promise<number> {
    return (await lakeKeys()).length;
  }
  /** The lake's objects, key (below the bucket's folder) → sha256 of what was read back. */
  async function lakeContents(): Promise<Map<string, string>> {
    const limit = pLimit(16);
    const out = new Map<string, string>();
    await Promise.all((await lakeKeys()).map((k) => limit(async () => out.set(k.slice(bucket.length + 1), await s3Sha(s3, lakeBucket, k)))));
    return out;
  }
});
