/**
 * Starts the real services once for the whole suite: a Temporal dev server,
 * an embedded Postgres and a MinIO server, all on loopback, all stopped (and
 * tethered to this process) when the run ends. Workflows are bundled once.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadEnv } from '../../config/env.js';
import { findMinio, findTemporalCli } from '../../infra/binaries.js';
import { startMinio } from '../../infra/minio-server.js';
import { installS3Clients, type S3ClientTools } from '../../infra/s3-clients.js';
import { installGrpcurl } from '../../infra/grpcurl.js';
import { installTemporalServer, type TemporalServerTools } from '../../infra/temporal-server-build.js';
import { installFakeGcsServer, startFakeGcsServer } from '../../infra/fake-gcs-server.js';
import { installElasticMq } from '../../infra/elasticmq-server.js';
import { startEmbeddedPostgres } from '../../infra/postgres-server.js';
import { startTemporalDevServer } from '../../infra/temporal-server.js';
import { workflowsPath } from '../../workers/bundle-paths.js';

export interface TestInfra {
  temporalAddress: string;
  temporalCli: string;
  /** The MinIO binary, for tests that run a server of their own. */
  minioBinary: string;
  postgresAdminUrl: string;
  minio: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  workflowBundlePath: string;
  /** The real S3 clients (aws CLI, boto3, s5cmd, rclone) to drive with test/support/s3-clients.ts. */
  s3Clients: S3ClientTools;
  /** grpcurl (infra/grpcurl.ts), for the gRPC tests. */
  grpcurl: string;
  /** The Temporal server and its schema tool (infra/temporal-server-build.ts), for the cluster tests. */
  temporalServer: TemporalServerTools;
  /** fake-gcs-server (infra/fake-gcs-server.ts), the Cloud Storage emulator gcs sources are tested against. */
  gcs: { endpoint: string; binary: string };
  /** ElasticMQ's install (infra/elasticmq-server.ts): tests start an SQS server of their own from it. */
  elasticMqDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    infra: TestInfra;
  }
}

/**
 * vitest calls this for the root config and for each project (vitest.config.ts:
 * the suite, then the quiet group), in one process: the first call starts the
 * services, every call provides them to its project, and the last teardown
 * stops them.
 */
interface Shared {
  started: Promise<{ infra: TestInfra; stop: () => Promise<void> }>;
  users: number;
}
const shared = globalThis as typeof globalThis & { lakesyncTestInfra?: Shared };

export default async function setup(project: TestProject) {
  const s = (shared.lakesyncTestInfra ??= { started: startInfra(), users: 0 });
  s.users++;
  try {
    project.provide('infra', (await s.started).infra);
  } catch (err) {
    s.users--;
    throw err;
  }
  return async () => {
    if (--s.users > 0) return;
    delete shared.lakesyncTestInfra;
    await (await s.started).stop();
  };
}

async function startInfra(): Promise<{ infra: TestInfra; stop: () => Promise<void> }> {
  const env = loadEnv();
  const log = (m: string) => process.stderr.write(`[test-infra] ${m}\n`);
  const scratch = await mkdtemp(join(tmpdir(), 'lakesync-test-'));
  // Postgres runs as its own OS user when we are root: it must reach its data dir.
  await chmod(scratch, 0o755);
  const lookup = { searchPath: env.PATH, cacheDir: env.LAKESYNC_CACHE_DIR, log };
  // Installed (once per cache) while the servers start.
  const s3ClientsInstall = installS3Clients({
    cacheDir: env.LAKESYNC_CACHE_DIR,
    overrides: { aws: env.LAKESYNC_AWS_CLI_PATH, python: env.LAKESYNC_BOTO3_PYTHON, s5cmd: env.LAKESYNC_S5CMD_PATH, rclone: env.LAKESYNC_RCLONE_PATH },
    log,
  });
  const grpcurlInstall = installGrpcurl({ cacheDir: env.LAKESYNC_CACHE_DIR, explicitPath: env.LAKESYNC_GRPCURL_PATH, log });
  const temporalServerInstall = installTemporalServer({
    cacheDir: env.LAKESYNC_CACHE_DIR,
    explicit: { server: env.LAKESYNC_TEMPORAL_SERVER_PATH, sqlTool: env.LAKESYNC_TEMPORAL_SQL_TOOL_PATH },
    log,
  });
  // Settled below; until then a failure must not surface as an unhandled rejection.
  s3ClientsInstall.catch(() => undefined);
  grpcurlInstall.catch(() => undefined);
  temporalServerInstall.catch(() => undefined);
  const elasticMqInstall = installElasticMq({ cacheDir: env.LAKESYNC_CACHE_DIR, log });
  elasticMqInstall.catch(() => undefined);
  // Built (once per cache) and started while the other servers start.
  const fakeGcs = installFakeGcsServer({ cacheDir: env.LAKESYNC_CACHE_DIR, explicitPath: env.LAKESYNC_FAKE_GCS_PATH, log }).then(async (binary) => ({
    ...(await startFakeGcsServer({ binary, log })),
    binary,
  }));
  fakeGcs.catch(() => undefined);
  const [temporalCli, minioBin] = await Promise.all([
    findTemporalCli({ ...lookup, explicitPath: env.TEMPORAL_CLI_PATH }),
    findMinio({ ...lookup, explicitPath: env.MINIO_PATH }),
  ]);
  const started = await Promise.allSettled([
    // A low continue-as-new threshold makes ordinary tests exercise the path a million-object run takes.
    startTemporalDevServer({ binary: temporalCli, ui: false, log, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 } }),
    startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), persistent: false, log }),
    startMinio({ binary: minioBin, dataDir: join(scratch, 'minio'), log }),
    bundleWorkflowCode({ workflowsPath, logger: { info() {}, warn() {}, error: log, debug() {}, trace() {}, log() {} } as never }),
    s3ClientsInstall,
    grpcurlInstall,
    temporalServerInstall,
    fakeGcs,
    elasticMqInstall,
  ] as const);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    // Leave nothing running behind a failed setup.
    await Promise.allSettled(started.map((r) => (r.status === 'fulfilled' && typeof r.value === 'object' && 'stop' in r.value ? r.value.stop() : undefined)));
    await rm(scratch, { recursive: true, force: true });
    throw (failed as PromiseRejectedResult).reason;
  }
  const [temporal, postgres, minio, bundle, s3Clients, grpcurl, temporalServer, gcs, elasticMqDir] = started.map(
    (r) => (r as PromiseFulfilledResult<unknown>).value,
  ) as [
    Awaited<ReturnType<typeof startTemporalDevServer>>,
    Awaited<ReturnType<typeof startEmbeddedPostgres>>,
    Awaited<ReturnType<typeof startMinio>>,
    Awaited<ReturnType<typeof bundleWorkflowCode>>,
    S3ClientTools,
    string,
    TemporalServerTools,
    Awaited<typeof fakeGcs>,
    string,
  ];
  const workflowBundlePath = join(scratch, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);
  const infra: TestInfra = {
    temporalAddress: temporal.address,
    temporalCli,
    minioBinary: minioBin,
    postgresAdminUrl: postgres.url,
    minio: { endpoint: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, region: minio.region },
    workflowBundlePath,
    s3Clients,
    grpcurl,
    temporalServer,
    gcs: { endpoint: gcs.endpoint, binary: gcs.binary },
    elasticMqDir,
  };
  const stop = async () => {
    await Promise.allSettled([temporal.stop(), postgres.stop(), minio.stop(), gcs.stop()]);
    await rm(scratch, { recursive: true, force: true });
  };
  return { infra, stop };
}
