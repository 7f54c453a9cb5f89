/**
 * The only reader of process.env. Every setting is validated here once, and a
 * bad value stops the process with the variable named.
 */
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseEgressList, type EgressMode } from '../domain/egress-policy.js';
import { VECTOR_INDEX_NAMES } from '../domain/embeddings/kinds.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
/** Comma-separated egress entries; every bad one is named. */
const egressList = z.string().transform((v, ctx) => {
  const { entries, problems } = parseEgressList(v);
  for (const message of problems) ctx.addIssue({ code: 'custom', message });
  return entries;
});
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** An address, a CIDR or one of express's `trust proxy` presets. */
const isProxySpec = (spec: string): boolean => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(spec)) return true;
  const [address = '', prefix, ...rest] = spec.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
};

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(8080),
  /** The API's gRPC server (K3's IngestService), on HOST too: 0 picks a free port (logged). */
  GRPC_PORT: int(0, 65535).default(9090),
  LAKESYNC_STATE_DIR: z.string().min(1).default('.lakesync'),
  LAKESYNC_CACHE_DIR: z
    .string()
    .min(1)
    .default(join(homedir(), '.cache', 'lakesync')),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('lakesync'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_UI_PORT: int(0, 65535).optional(),
  MINIO_PATH: z.string().optional(),
  /** The S3 clients the tests and benchmark run (infra/s3-clients.ts installs pinned ones when these are unset). */
  LAKESYNC_AWS_CLI_PATH: z.string().optional(),
  LAKESYNC_BOTO3_PYTHON: z.string().optional(),
  LAKESYNC_S5CMD_PATH: z.string().optional(),
  LAKESYNC_RCLONE_PATH: z.string().optional(),
  /** s3sync for the benchmark (infra/s3sync.ts builds a pinned one when unset). */
  LAKESYNC_S3SYNC_PATH: z.string().optional(),
  /** grpcurl for the gRPC tests (infra/grpcurl.ts builds a pinned one when unset). */
  LAKESYNC_GRPCURL_PATH: z.string().optional(),
  /** The Temporal server and its schema tool for the cluster tests (infra/temporal-server-build.ts builds pinned ones when unset). */
  LAKESYNC_TEMPORAL_SERVER_PATH: z.string().optional(),
  LAKESYNC_TEMPORAL_SQL_TOOL_PATH: z.string().optional(),
  /** fake-gcs-server for the gcs source's tests (infra/fake-gcs-server.ts builds a pinned one when unset). */
  LAKESYNC_FAKE_GCS_PATH: z.string().optional(),
  LAKE_STORAGE: z.enum(['filesystem', 's3']).default('filesystem'),
  LAKE_DIR: z.string().optional(),
  LAKE_S3_ENDPOINT: z.string().url().optional(),
  LAKE_S3_REGION: z.string().default('us-east-1'),
  LAKE_S3_BUCKET: z.string().optional(),
  LAKE_S3_ACCESS_KEY_ID: z.string().optional(),
  LAKE_S3_SECRET_ACCESS_KEY: z.string().optional(),
  LAKE_S3_FORCE_PATH_STYLE: bool.default(true),
  LAKESYNC_SECRET_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  WORKER_BATCH_CONCURRENCY: int(1, 64).default(4),
  WORKER_OBJECT_CONCURRENCY: int(1, 256).default(8),
  /** The most of a worker's copy slots one source holds while another source's copies wait (README "Tenant fairness"). */
  WORKER_SOURCE_MAX_SLOT_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  /**
   * Tenant fairness in the worker (README "Tenant fairness"): an organisation
   * that has used a quantum of activity time is held to this many copies at
   * once, its scans paced, while one that has not is present.
   */
  WORKER_TENANT_HELD_UNITS: int(1, 256).default(1),
  WORKER_TENANT_QUANTUM_SECONDS: z.coerce.number().gt(0).max(86_400).default(10),
  /** How long an organisation counts as present after its last step. */
  WORKER_TENANT_LINGER_SECONDS: z.coerce.number().min(0).max(600).default(3),
  WORKER_LIST_PAGE_SIZE: int(1, 1000).default(1000),
  /**
   * Worker Versioning (README "Upgrading lakesync"): the Temporal worker
   * deployment this worker belongs to and its build's id. Both or neither:
   * unset, the worker is unversioned (`npm run dev`, the tests, one-process setups).
   */
  LAKESYNC_WORKER_DEPLOYMENT: z
    .string()
    .min(1)
    .max(200)
    // Temporal writes a version as `<deployment>.<buildId>`: a dot in the name would make that ambiguous.
    .regex(/^[^.\s]+$/, 'must not contain dots or whitespace')
    .optional(),
  LAKESYNC_WORKER_BUILD_ID: z.string().min(1).max(200).regex(/^\S+$/, 'must not contain whitespace').optional(),
  /** On start, make this build the deployment's current version, unless a build registered after it already is. */
  LAKESYNC_WORKER_SET_CURRENT: bool.default(false),
  /** A workflow bundle built ahead of time; without it the worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  WORKER_MAX_OBJECTS_PER_SECOND: z.coerce.number().min(0).max(100_000).default(0),
  LAKESYNC_HEAL_INTERVAL_SECONDS: int(5, 86_400).default(300),
  /** S3 multipart uploads neither completed nor aborted after this long are aborted by the workers (S3 lifecycle rules' usual 7 days). */
  LAKESYNC_S3_MULTIPART_MAX_AGE_HOURS: int(1, 24 * 365).default(24 * 7),
  /** How often workers look for those abandoned uploads. */
  LAKESYNC_S3_MULTIPART_SWEEP_SECONDS: int(1, 86_400).default(3600),
  /** After SIGTERM, how long in-flight activities may run before they are cancelled. */
  WORKER_SHUTDOWN_GRACE_SECONDS: int(0, 86_400).default(30),
  /** After SIGTERM, when a worker that has still not drained gives up and exits 1 (default: grace + 30 s). */
  WORKER_SHUTDOWN_FORCE_SECONDS: int(1, 86_400).optional(),
  /** After SIGTERM, how long the API lets in-flight requests finish before it cuts their connections. */
  API_SHUTDOWN_GRACE_SECONDS: int(0, 86_400).default(30),
  /** The worker's Prometheus endpoint: unset is off, 0 picks a free port (logged). */
  WORKER_METRICS_PORT: int(0, 65535).optional(),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** HS256 shared secret for bearer tokens (32+ characters). */
  LAKESYNC_AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** JWKS URL of an OIDC provider (RS256/ES256 tokens), instead of or besides the shared secret. */
  LAKESYNC_AUTH_JWKS_URL: z.string().url().optional(),
  LAKESYNC_AUTH_ISSUER: z.string().min(1).optional(),
  LAKESYNC_AUTH_AUDIENCE: z.string().min(1).optional(),
  /** The token claim that names the caller's organisation. */
  LAKESYNC_AUTH_ORG_CLAIM: z.string().min(1).default('org'),
  /** Directories filesystem sources may read under, separated by ':' (unset: none in production; home and temp directories otherwise). */
  LAKESYNC_FS_ROOTS: z
    .string()
    .transform((v) => v.split(':').filter(Boolean))
    .refine((roots) => roots.every((r) => r.startsWith('/')), 'must be absolute paths separated by :')
    .optional(),
  /** More directories (or files) filesystem sources may never read, even under a root, separated by ':'. */
  LAKESYNC_FS_DENY: z
    .string()
    .transform((v) => v.split(':').filter(Boolean))
    .refine((paths) => paths.every((r) => r.startsWith('/')), 'must be absolute paths separated by :')
    .optional(),
  /** Files one multipart upload request may carry; a request with more is refused whole (400 naming `file`). */
  UPLOAD_MAX_FILES_PER_REQUEST: int(1, 100_000).default(10_000),
  /** The region S3 clients sign for at lakesync's S3 endpoint (their credential scope must name it). */
  LAKESYNC_S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be an S3 region name')
    .default('us-east-1'),
  /** Virtual-host style S3 requests: `<bucket>.<domain>` names the bucket (unset: path style only). */
  LAKESYNC_S3_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]+$/i, 'must be a DNS name')
    .optional(),
  /** Base URL clients reach the API at, for signed object URLs (default: a trusted proxy's forwarded origin, else the address the request arrived at). */
  LAKESYNC_PUBLIC_URL: z.string().url().optional(),
  /** Comma-separated proxies (IPs, CIDRs, or loopback / linklocal / uniquelocal) whose X-Forwarded-Host / -Proto / -For are believed (unset: none). */
  LAKESYNC_TRUST_PROXY: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => list.every(isProxySpec), 'must be IP addresses, CIDRs or loopback / linklocal / uniquelocal, separated by commas')
    .optional(),
  /** How long one search may run in Postgres before it is cancelled and answered 503 (milliseconds). */
  LAKESYNC_SEARCH_TIMEOUT_MS: int(1, 600_000).default(5000),
  /** Searches one API process runs at once; more are answered 503 with Retry-After, so searches never starve the pool. */
  LAKESYNC_SEARCH_CONCURRENCY: int(1, 64).default(4),
  /** The vector index: `auto` (pgvector's HNSW where the database has or can create the `vector` extension, else exact scan), `exact`, or `hnsw` (start fails without pgvector). */
  LAKESYNC_VECTOR_INDEX: z.enum(['auto', ...VECTOR_INDEX_NAMES]).default('auto'),
  /** Destinations tenant-given S3 endpoints and webhook URLs may always reach (CIDRs, hostnames, *.domain). */
  LAKESYNC_EGRESS_ALLOW: egressList.optional(),
  /** Destinations they may never reach; see domain/egress-policy.ts for precedence. */
  LAKESYNC_EGRESS_DENY: egressList.optional(),
  /** Which addresses are refused by default: strict (production) or dev (only link-local and cloud metadata). */
  LAKESYNC_EGRESS_DEFAULT: z.enum(['strict', 'dev']).optional(),
  /** Tests only: the seed of their random choices (the crash tests' kill points), to replay a failing run; unset picks one and logs it. */
  LAKESYNC_TEST_SEED: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a decimal number (as a test run logs it)')
    .optional(),
  PATH: z.string().default(''),
});

export type Env = z.infer<typeof EnvSchema>;

export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  if (env.LAKE_STORAGE === 's3') {
    const missing = (['LAKE_S3_ENDPOINT', 'LAKE_S3_BUCKET', 'LAKE_S3_ACCESS_KEY_ID', 'LAKE_S3_SECRET_ACCESS_KEY'] as const).filter((k) => !env[k]);
    if (missing.length) throw new Error(`invalid environment:\n${missing.map((k) => `  ${k}: required when LAKE_STORAGE=s3`).join('\n')}`);
  }
  if (env.WORKER_SHUTDOWN_FORCE_SECONDS !== undefined && env.WORKER_SHUTDOWN_FORCE_SECONDS <= env.WORKER_SHUTDOWN_GRACE_SECONDS) {
    throw new Error(
      `invalid environment:\n  WORKER_SHUTDOWN_FORCE_SECONDS: must be more than WORKER_SHUTDOWN_GRACE_SECONDS (${env.WORKER_SHUTDOWN_GRACE_SECONDS})`,
    );
  }
  const [given, other] = env.LAKESYNC_WORKER_DEPLOYMENT
    ? ['LAKESYNC_WORKER_DEPLOYMENT', 'LAKESYNC_WORKER_BUILD_ID']
    : ['LAKESYNC_WORKER_BUILD_ID', 'LAKESYNC_WORKER_DEPLOYMENT'];
  if (!env.LAKESYNC_WORKER_DEPLOYMENT !== !env.LAKESYNC_WORKER_BUILD_ID)
    throw new Error(`invalid environment:\n  ${other}: required with ${given} (Worker Versioning needs both)`);
  if (env.LAKESYNC_WORKER_SET_CURRENT && !env.LAKESYNC_WORKER_DEPLOYMENT)
    throw new Error('invalid environment:\n  LAKESYNC_WORKER_SET_CURRENT: needs LAKESYNC_WORKER_DEPLOYMENT and LAKESYNC_WORKER_BUILD_ID');
  if (env.NODE_ENV === 'production') {
    const missing: string[] = [];
    if (!env.LAKESYNC_SECRET_KEY) missing.push('  LAKESYNC_SECRET_KEY: required in production (32 bytes, base64)');
    if (!env.LAKESYNC_AUTH_SECRET && !env.LAKESYNC_AUTH_JWKS_URL)
      missing.push('  LAKESYNC_AUTH_SECRET or LAKESYNC_AUTH_JWKS_URL: required in production (bearer tokens are verified with it)');
    if (missing.length) throw new Error(`invalid environment:\n${missing.join('\n')}`);
  }
  return env;
}

/** When a worker stops waiting for in-flight work after SIGTERM. */
export const workerForceSeconds = (env: Env): number => env.WORKER_SHUTDOWN_FORCE_SECONDS ?? env.WORKER_SHUTDOWN_GRACE_SECONDS + 30;

/** This worker's Temporal worker deployment version, when Worker Versioning is configured. */
export const workerVersion = (env: Env): { deploymentName: string; buildId: string } | undefined =>
  env.LAKESYNC_WORKER_DEPLOYMENT && env.LAKESYNC_WORKER_BUILD_ID
    ? { deploymentName: env.LAKESYNC_WORKER_DEPLOYMENT, buildId: env.LAKESYNC_WORKER_BUILD_ID }
    : undefined;

/** Strict in production unless LAKESYNC_EGRESS_DEFAULT says otherwise. */
export const egressMode = (env: Env): EgressMode => env.LAKESYNC_EGRESS_DEFAULT ?? (env.NODE_ENV === 'production' ? 'strict' : 'dev');

export const stateDir = (env: Env): string => resolve(env.LAKESYNC_STATE_DIR);
export const lakeDir = (env: Env): string => resolve(env.LAKE_DIR ?? join(stateDir(env), 'lake'));
