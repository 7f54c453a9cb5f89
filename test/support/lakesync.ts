import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { pino, type Logger } from 'pino';
import { SignJWT } from 'jose';
import { setDefaultToken } from './http.js';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadEnv } from '../../config/env.js';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { startRuntime, type Runtime as LakesyncRuntime } from '../../workers/app-runtime.js';
import type { ActivityDeps } from '../../activities/index.js';
import { createS3Client } from '../../activities/storage/s3-client.js';
import type { TestInfra } from './global-setup.js';

export interface TestLakesync {
  url: string;
  /** Mints a bearer token for this lakesync (default: org `test-org`, every scope, subject `test`). */
  token(claims?: { org?: string; scope?: string; expiresIn?: string; sub?: string }): Promise<string>;
  /** The HS256 secret its tokens are signed with, for tests that forge odd ones. */
  authSecret: string;
  /** Everything a separate worker process needs to join this lakesync. */
  workerEnv: Record<string, string>;
  runtime: LakesyncRuntime;
  databaseUrl: string;
  taskQueue: string;
  /** Where the lake lives: a directory, or a MinIO bucket. */
  lake: { kind: 'filesystem'; dir: string } | { kind: 's3'; bucket: string };
  stop(): Promise<void>;
}

let runtimeInstalled = false;
/** The SDK's own logs stay quiet in tests unless something is really wrong. */
function quietTemporalLogs(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A client of the suite's MinIO, or of the one given (an outage test's own). */
export function minioClient(minio: TestInfra['minio'] = inject('infra').minio): S3Client {
  return createS3Client({ ...minio, forcePathStyle: true });
}

/** An `s3` source's settings for a bucket of the suite's MinIO, read at `endpoint` (MinIO's own, or a proxy in front of it). */
export function minioS3Settings(o: { bucket: string; prefix?: string; endpoint?: string }) {
  const minio = inject('infra').minio;
  return {
    endpoint: o.endpoint ?? minio.endpoint,
    region: minio.region,
    bucket: o.bucket,
    ...(o.prefix === undefined ? {} : { prefix: o.prefix }),
    accessKeyId: minio.accessKeyId,
    secretAccessKey: minio.secretAccessKey,
    forcePathStyle: true,
  };
}

/**
 * One lakesync (API + worker) per test file, on its own database and task
 * queue, against the suite's real Temporal, Postgres and MinIO.
 */
export async function startTestLakesync(o: {
  lake: 'filesystem' | 's3';
  activityOverrides?: Partial<ActivityDeps>;
  env?: Record<string, string>;
  worker?: 'in-process' | 'separate';
  log?: Logger;
  /** Servers of the test's own to run on instead of the suite's (outage tests stop and start them). */
  infra?: Partial<Pick<TestInfra, 'temporalAddress' | 'postgresAdminUrl' | 'minio'>>;
}): Promise<TestLakesync> {
  quietTemporalLogs();
  const infra = { ...inject('infra'), ...o.infra };
  const dbName = unique('lakesync_test').replace(/-/g, '_');
  await ensureDatabase(infra.postgresAdminUrl, dbName);
  const databaseUrl = infra.postgresAdminUrl.replace(/\/postgres$/, `/${dbName}`);
  const taskQueue = unique('lakesync-test');
  let lake: TestLakesync['lake'];
  let lakeDir: string | undefined;
  const vars: Record<string, string> = {
    PORT: '0',
    GRPC_PORT: '0',
    HOST: '127.0.0.1',
    TEMPORAL_TASK_QUEUE: taskQueue,
    LOG_LEVEL: 'silent',
    WORKER_BATCH_CONCURRENCY: '4',
    WORKER_OBJECT_CONCURRENCY: '8',
    LAKESYNC_FS_ROOTS: tmpdir(),
  };
  if (o.lake === 's3') {
    const bucket = unique('lake');
    await minioClient(infra.minio).send(new CreateBucketCommand({ Bucket: bucket }));
    Object.assign(vars, {
      LAKE_STORAGE: 's3',
      LAKE_S3_ENDPOINT: infra.minio.endpoint,
      LAKE_S3_BUCKET: bucket,
      LAKE_S3_ACCESS_KEY_ID: infra.minio.accessKeyId,
      LAKE_S3_SECRET_ACCESS_KEY: infra.minio.secretAccessKey,
    });
    lake = { kind: 's3', bucket };
  } else {
    lakeDir = await mkdtemp(join(tmpdir(), 'lakesync-lake-'));
    Object.assign(vars, { LAKE_STORAGE: 'filesystem', LAKE_DIR: lakeDir });
    lake = { kind: 'filesystem', dir: lakeDir };
  }
  const env = loadEnv({ ...vars, ...o.env });
  const secretKey = randomBytes(32).toString('base64');
  // A test may run as production, which needs LAKESYNC_AUTH_SECRET: tokens are then signed with it.
  const authSecret = o.env?.LAKESYNC_AUTH_SECRET ?? randomBytes(32).toString('base64url');
  const runtime = await startRuntime({
    env,
    temporalAddress: infra.temporalAddress,
    databaseUrl,
    secretKey,
    authSecret,
    log: o.log ?? pino({ level: 'silent' }),
    runApi: true,
    runWorker: o.worker !== 'separate',
    workflowBundle: { code: await readFile(infra.workflowBundlePath, 'utf8') },
    activityOverrides: { retryBackoffMs: 50, ...o.activityOverrides },
  });
  const workerEnv = {
    ...vars,
    ...o.env,
    PORT: '0',
    GRPC_PORT: '0',
    LAKESYNC_PUBLIC_URL: runtime.url!,
    TEMPORAL_ADDRESS: infra.temporalAddress,
    DATABASE_URL: databaseUrl,
    LAKESYNC_SECRET_KEY: secretKey,
    WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
    LOG_LEVEL: 'info',
  };
  const token = (claims: { org?: string; scope?: string; expiresIn?: string; sub?: string } = {}) =>
    new SignJWT({ org: claims.org ?? 'test-org', scope: claims.scope ?? 'read write admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub ?? 'test')
      .setIssuedAt()
      .setExpirationTime(claims.expiresIn ?? '1h')
      .sign(new TextEncoder().encode(authSecret));
  setDefaultToken(runtime.url!, await token());
  return {
    url: runtime.url!,
    token,
    authSecret,
    workerEnv,
    runtime,
    databaseUrl,
    taskQueue,
    lake,
    stop: async () => {
      await runtime.stop();
      if (lakeDir) await rm(lakeDir, { recursive: true, force: true });
    },
  };
}
