import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { egressMode, workerForceSeconds, workerVersion, type Env } from '../config/env.js';
import { EgressPolicy } from '../domain/egress-policy.js';
import { closeDb, createDb, type Db } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { SecretBox } from '../domain/secrets.js';
import type { ApiDeps } from '../api/deps.js';
import type { GrpcServer } from '../api/grpc/server.js';
import { PageTokens } from '../api/pagination.js';
import type { MultipartLimits } from '../api/multipart-files.js';
import { settleControllerWakes } from '../api/wake-controller.js';
import { Authenticator } from '../api/auth.js';
import { UrlSigner } from '../domain/signed-urls.js';
import type { ActivityDeps } from '../activities/index.js';
import { Throttle } from '../activities/throttle.js';
import { CopySlots } from '../activities/copy-slots.js';
import { TenantShare } from '../activities/tenant-share.js';
import { activitySlots } from './activity-slots.js';
import { makeCurrent } from './worker-deployment.js';
import { withSafeSerializers } from './logger.js';
import { healControllers } from '../api/controllers.js';
import { removeAbandonedUploads } from '../api/s3/multipart-state.js';
import { createLake } from './lake.js';
import { SourceWatchers } from './source-watchers.js';
import { QueuePollers } from './queue-pollers.js';
import { SourceLeases } from './source-leases.js';
import { fsAccessFromEnv } from './fs-access.js';
import { clientConnection, workerConnection } from './temporal-connection.js';
import { closeGracefully } from './close-server.js';
import { within } from './within.js';
import { reportDiscoveryLag } from '../metrics/registry.js';
import { discoveryLagReader } from '../metrics/discovery-lag.js';
import { startMetricsServer, type MetricsServer } from '../metrics/server.js';
import { startStep } from '../infra/startup-failure.js';
import { chooseVectorIndex } from '../catalog/vector-index.js';
import { LOCAL_MODEL_DIMENSIONS } from '../domain/embeddings/providers.js';

const STALE_TEMP_MS = 3600 * 1000;

export interface RuntimeOptions {
  env: Env;
  temporalAddress: string;
  databaseUrl: string;
  secretKey: string;
  log: Logger;
  runApi: boolean;
  runWorker: boolean;
  workflowBundle?: { code: string };
  /** HS256 secret for bearer tokens when the environment gives none (dev and tests). */
  authSecret?: string;
  /** Overrides for tests: small pages, fast retries. */
  activityOverrides?: Partial<ActivityDeps>;
}

/** Form fields are ignored by uploads: a few are tolerated, small. */
const uploadLimits = (env: Env): MultipartLimits => ({ maxFiles: env.UPLOAD_MAX_FILES_PER_REQUEST, maxFields: 100, maxFieldBytes: 64 * 1024 });

export interface Runtime {
  url?: string;
  /** host:port of the API's gRPC server (K3's IngestService). */
  grpcAddress?: string;
  /** The worker's Prometheus endpoint, when WORKER_METRICS_PORT turns it on. */
  metricsUrl?: string;
  db: Db;
  temporal: Client;
  worker?: Worker;
  /**
   * Stops taking work and lets in-flight work finish: requests within
   * API_SHUTDOWN_GRACE_SECONDS, activities within WORKER_SHUTDOWN_GRACE_SECONDS
   * (then they are cancelled and retried elsewhere). False when something had
   * to be cut: a request's connection, or a worker that never drained.
   */
  stop(): Promise<boolean>;
}

/**
 * Wires API and/or worker to Postgres and Temporal. `npm run dev`, `npm start`,
 * `npm run worker` and the tests all start lakesync through here.
 */
export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  // Whoever built the logger: errors are logged without query parameters.
  const log = withSafeSerializers(o.log);
  await startStep('Postgres (database migrations)', () => runMigrations(o.databaseUrl));
  const db = createDb(o.databaseUrl, 20);
  // Chosen before anything starts that a failure here would leave running.
  const vectorIndex = o.runApi
    ? await startStep(
        'vector index',
        () => chooseVectorIndex(db.$client, o.env.LAKESYNC_VECTOR_INDEX, Object.values(LOCAL_MODEL_DIMENSIONS), log),
        'LAKESYNC_VECTOR_INDEX',
      ).catch(async (err: unknown) => {
        await db.$client.end();
        throw err;
      })
    : undefined;
  const secrets = new SecretBox(o.secretKey);
  const connection = await startStep(`Temporal at ${o.temporalAddress}`, () => clientConnection(o.env, o.temporalAddress));
  const temporal = new Client({ connection, namespace: o.env.TEMPORAL_NAMESPACE });

  let worker: Worker | undefined;
  // One lake (one S3 client pool and copier) for the worker and the API of this process.
  const lake = createLake(o.env);
  // A process killed mid-write leaves its temp file; a live write touches its file all the time (requests time out long before an hour).
  const swept = await lake.removeStaleTemp(STALE_TEMP_MS);
  if (swept > 0) o.log.info({ removed: swept }, 'removed temp files of writes cut off by an earlier crash');
  const egress = new EgressPolicy(egressMode(o.env), o.env.LAKESYNC_EGRESS_ALLOW, o.env.LAKESYNC_EGRESS_DENY);
  const entries = (list: { text: string }[] | undefined) => (list ?? []).map((e) => e.text);
  o.log.info(
    { mode: egress.mode, allow: entries(o.env.LAKESYNC_EGRESS_ALLOW), deny: entries(o.env.LAKESYNC_EGRESS_DENY) },
    'egress policy for tenant-given destinations',
  );
  const fsAccess = fsAccessFromEnv(o.env);
  const urlSigner = new UrlSigner(createHash('sha256').update('object-urls:').update(o.secretKey).digest());
  let url: string | undefined;
  let workerDone: Promise<void> | undefined;
  let workerConn: Awaited<ReturnType<typeof workerConnection>> | undefined;
  if (o.runWorker) {
    workerConn = await startStep(`Temporal at ${o.temporalAddress}`, () => workerConnection(o.env, o.temporalAddress));
    const copySlots = new CopySlots(o.env.WORKER_OBJECT_CONCURRENCY * o.env.WORKER_BATCH_CONCURRENCY, o.env.WORKER_SOURCE_MAX_SLOT_SHARE);
    const deps: ActivityDeps = {
      db,
      lake,
      secrets,
      objectConcurrency: o.env.WORKER_OBJECT_CONCURRENCY,
      copySlots,
      tenants: new TenantShare({
        units: copySlots.size,
        activityLimit: activitySlots(o.env.WORKER_BATCH_CONCURRENCY) - 4,
        heldUnits: o.env.WORKER_TENANT_HELD_UNITS,
        lingerMs: o.env.WORKER_TENANT_LINGER_SECONDS * 1000,
        quantumMs: o.env.WORKER_TENANT_QUANTUM_SECONDS * 1000,
        heldPause: 3,
      }),
      batchConcurrency: o.env.WORKER_BATCH_CONCURRENCY,
      listPageSize: o.env.WORKER_LIST_PAGE_SIZE,
      maxAttempts: 3,
      retryBackoffMs: 500,
      throttle: new Throttle(o.env.WORKER_MAX_OBJECTS_PER_SECOND),
      egress,
      fsAccess,
      urlSigner,
      // The API's own address once it listens, when no public URL is configured.
      objectUrlBase: () => (o.env.LAKESYNC_PUBLIC_URL ?? url)?.replace(/\/$/, ''),
      ...o.activityOverrides,
    };
    const version = workerVersion(o.env);
    // The worker SDK, the activities and every source kind's client library are loaded only where a worker
    // runs: an API process without them holds about half the heap (28 vs 56 MiB before any request).
    const { createWorker } = await import('./create-worker.js');
    worker = await createWorker({
      connection: workerConn,
      namespace: o.env.TEMPORAL_NAMESPACE,
      taskQueue: o.env.TEMPORAL_TASK_QUEUE,
      deps,
      workflowBundle: o.workflowBundle,
      shutdownGraceTime: o.env.WORKER_SHUTDOWN_GRACE_SECONDS * 1000,
      shutdownForceTime: workerForceSeconds(o.env) * 1000,
      version,
    });
    workerDone = worker.run();
    if (version && o.env.LAKESYNC_WORKER_SET_CURRENT) {
      // Not fatal: until an operator sets it current, this build polls and the current one keeps serving.
      await makeCurrent({ temporal, namespace: o.env.TEMPORAL_NAMESPACE, version, log }).catch((err: unknown) =>
        log.error({ err }, 'this build could not be made current: set it with `temporal worker deployment set-current-version`'),
      );
    }
  }

  let metrics: MetricsServer | undefined;
  let stopLagReport: (() => void) | undefined;
  if (o.runWorker) {
    stopLagReport = reportDiscoveryLag(discoveryLagReader(db, log));
    const metricsPort = o.env.WORKER_METRICS_PORT;
    if (metricsPort !== undefined)
      metrics = await startStep(
        'worker metrics endpoint',
        () => startMetricsServer(o.env.WORKER_METRICS_HOST, metricsPort),
        'WORKER_METRICS_HOST / WORKER_METRICS_PORT',
      );
  }

  // Controllers that are missing (terminated by hand, lost with a cluster) come back at start-up and periodically.
  let healTimer: NodeJS.Timeout | undefined;
  // The check under way, if any: stop waits for it before the connection closes.
  let healing: Promise<unknown> = Promise.resolve();
  if (o.runWorker || o.runApi) {
    const heal = () =>
      (healing = healControllers({ taskQueue: o.env.TEMPORAL_TASK_QUEUE, temporal, db, log }).catch((err) => log.warn({ err }, 'controller check failed')));
    void heal();
    healTimer = setInterval(() => void heal(), o.env.LAKESYNC_HEAL_INTERVAL_SECONDS * 1000);
  }

  // Abandoned S3 multipart uploads lose their lake parts and rows, at start and periodically; workers sweeping at once share the work.
  let multipartTimer: NodeJS.Timeout | undefined;
  if (o.runWorker) {
    const maxAgeMs = o.env.LAKESYNC_S3_MULTIPART_MAX_AGE_HOURS * 3600 * 1000;
    const sweep = () =>
      removeAbandonedUploads(db, lake, maxAgeMs, undefined, log).then(
        (removed) => void (removed > 0 && log.info({ removed }, 'aborted abandoned multipart uploads')),
        (err: unknown) => log.warn({ err }, 'abandoned multipart uploads could not be cleaned up'),
      );
    void sweep();
    multipartTimer = setInterval(() => void sweep(), o.env.LAKESYNC_S3_MULTIPART_SWEEP_SECONDS * 1000);
  }

  // Sources whose notifications a worker carries out (a watched directory, an SQS queue): each followed by the worker holding its lease.
  let followers: SourceLeases | undefined;
  if (o.runWorker) {
    const taskQueue = o.env.TEMPORAL_TASK_QUEUE;
    followers = new SourceLeases(
      { db, log },
      { watch: new SourceWatchers({ db, temporal, taskQueue, fsAccess, log }), sqs: new QueuePollers({ db, temporal, taskQueue, secrets, egress, log }) },
    );
    followers.start();
  }

  let server: Server | undefined;
  let grpc: GrpcServer | undefined;
  if (o.runApi) {
    const pageTokens = new PageTokens(createHash('sha256').update('page-tokens:').update(o.secretKey).digest());
    const auth = new Authenticator({
      secret: o.env.LAKESYNC_AUTH_SECRET ?? o.authSecret,
      jwksUrl: o.env.LAKESYNC_AUTH_JWKS_URL,
      issuer: o.env.LAKESYNC_AUTH_ISSUER,
      audience: o.env.LAKESYNC_AUTH_AUDIENCE,
      orgClaim: o.env.LAKESYNC_AUTH_ORG_CLAIM,
    });
    if (o.env.NODE_ENV === 'production' && !o.env.LAKESYNC_PUBLIC_URL && !o.env.LAKESYNC_TRUST_PROXY) {
      // Without either, signed URLs carry the address this process listens on, which clients behind NAT or a proxy cannot reach.
      log.warn('LAKESYNC_PUBLIC_URL is not set: signed object URLs will point at the address the API listens on');
    }
    const apiDeps: ApiDeps = {
      db,
      temporal,
      taskQueue: o.env.TEMPORAL_TASK_QUEUE,
      secrets,
      pageTokens,
      auth,
      lake,
      urlSigner,
      publicUrl: o.env.LAKESYNC_PUBLIC_URL,
      trustProxy: o.env.LAKESYNC_TRUST_PROXY,
      fsAccess,
      egress,
      search: { timeoutMs: o.env.LAKESYNC_SEARCH_TIMEOUT_MS, concurrency: o.env.LAKESYNC_SEARCH_CONCURRENCY },
      vectorIndex,
      uploadLimits: uploadLimits(o.env),
      s3: { region: o.env.LAKESYNC_S3_REGION, domain: o.env.LAKESYNC_S3_DOMAIN },
      log,
    };
    const { startApiServers } = await import('./start-api.js');
    ({ server, grpc, url } = await startApiServers(apiDeps, o.env.HOST, o.env.PORT, o.env.GRPC_PORT));
  }

  const stopWorker = async (): Promise<boolean> => {
    if (!worker) return true;
    if (worker.getState() === 'RUNNING') worker.shutdown();
    try {
      await workerDone;
      return true;
    } catch (err) {
      log.error({ err }, 'worker did not drain before WORKER_SHUTDOWN_FORCE_SECONDS');
      return false;
    }
  };

  return {
    url,
    grpcAddress: grpc?.address,
    metricsUrl: metrics?.url,
    db,
    temporal,
    worker,
    stop: async () => {
      clearInterval(healTimer);
      clearInterval(multipartTimer);
      await followers?.stop();
      // gRPC calls in flight get the same grace as HTTP requests.
      const graceMs = o.env.API_SHUTDOWN_GRACE_SECONDS * 1000;
      const [apiClean, grpcClean, workerClean] = await Promise.all([
        server ? closeGracefully(server, graceMs) : true,
        grpc ? grpc.stop(graceMs) : true,
        stopWorker(),
      ]);
      stopLagReport?.();
      // Scrapeable until the work is done, so the last counts are not lost.
      await metrics?.close();
      // Activities that never drained still hold connections: leave them to the process exit.
      if (workerClean) {
        // Nothing may be on its way through the client when its channel shuts down.
        // At most a few seconds: with Temporal down, a check could otherwise keep retrying past any grace.
        await within(Promise.all([settleControllerWakes(temporal), healing]), 5000);
        await workerConn?.close();
        await connection.close();
        await closeDb(db);
      }
      return apiClean && grpcClean && workerClean;
    },
  };
}
