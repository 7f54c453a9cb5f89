/**
 * Runs the real S3 clients (installed by infra/s3-clients.ts, handed over by
 * global-setup as `inject('infra').s3Clients`) against one endpoint, the way a
 * user on a clean machine would: credentials only in the environment (a command
 * line shows in `ps`), no config from $HOME, path-style addressing, each run
 * bounded in time and its output in the error when it fails.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3ClientTools } from '../../infra/s3-clients.js';

export interface S3Endpoint {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** A PEM file of certificates to trust for an https URL (test/support/tls-front.ts). */
  caBundle?: string;
}

export interface RunOptions {
  /** Milliseconds before the client is killed (default 120 s). */
  timeoutMs?: number;
  cwd?: string;
  /** More environment, e.g. a test's own variables for a boto3 script. */
  env?: Record<string, string>;
  /** `aws` only: lines added under `s3 =` in its config file, e.g. `max_concurrent_requests = 32`. */
  awsS3Config?: string[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** rclone's remote for the endpoint: `rclone(endpoint, ['copy', dir, \`${RCLONE_REMOTE}:bucket/prefix\`])`. */
export const RCLONE_REMOTE = 'target';

const tail = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);

/** The caller's environment minus whatever could point a client elsewhere (profiles, CA bundles, rclone flags, proxies for loopback). */
function baseEnv(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|BOTO_|RCLONE_|S3_|PYTHON(PATH|HOME|STARTUP)$)/i.test(k)) out[k] = v;
  return out;
}

function execute(argv: string[], env: NodeJS.ProcessEnv, o: RunOptions & { stdin?: string; cwd: string }): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty command');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env, cwd: o.cwd, timeout: o.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const how = err.killed ? `killed after ${o.timeoutMs ?? 120_000} ms` : `exit ${String(err.code)}`;
        reject(
          Object.assign(new Error(`${argv.join(' ')} (${how})\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`), {
            stdout,
            stderr,
            exitCode: err.code,
          }),
        );
      },
    );
    child.stdin?.end(o.stdin ?? '');
  });
}

/** A scratch directory for one run's config files (and the working directory when none is given). */
async function withScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-s3-client-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** botocore (aws CLI and boto3) from environment and a config file of our own; AWS_ENDPOINT_URL points both at the endpoint. */
async function botocoreEnv(e: S3Endpoint, dir: string, o: RunOptions): Promise<NodeJS.ProcessEnv> {
  const config = join(dir, 'aws-config');
  await writeFile(config, ['[default]', 's3 =', '  addressing_style = path', ...(o.awsS3Config ?? []).map((l) => `  ${l}`), ''].join('\n'));
  return {
    ...baseEnv(),
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_ACCESS_KEY_ID: e.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.secretAccessKey,
    AWS_DEFAULT_REGION: e.region,
    AWS_ENDPOINT_URL: e.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(e.caBundle ? { AWS_CA_BUNDLE: e.caBundle } : {}),
    ...o.env,
  };
}

/** The clients bound to their installed paths; each call runs one process to completion. */
export function s3Clients(tools: S3ClientTools) {
  return {
    /** The aws CLI, e.g. `aws(e, ['s3', 'cp', file, 's3://bucket/key'])`. */
    aws: (e: S3Endpoint, args: string[], o: RunOptions = {}) =>
      withScratch(async (dir) => execute([...tools.aws, ...args], await botocoreEnv(e, dir, o), { ...o, cwd: o.cwd ?? dir })),

    /** A Python script with boto3: `boto3.client('s3')` reaches the endpoint with no arguments. */
    python: (e: S3Endpoint, script: string, o: RunOptions = {}) =>
      withScratch(async (dir) => execute(tools.python, await botocoreEnv(e, dir, o), { ...o, cwd: o.cwd ?? dir, stdin: script })),

    /** s5cmd, e.g. `s5cmd(e, ['cp', 'dir/*', 's3://bucket/prefix/'])`; no retries, so a failure shows at once. */
    s5cmd: (e: S3Endpoint, args: string[], o: RunOptions = {}) =>
      withScratch((dir) =>
        execute(
          [...tools.s5cmd, '--endpoint-url', e.url, '--retry-count', '0', ...args],
          {
            ...baseEnv(),
            AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
            AWS_CONFIG_FILE: join(dir, 'no-config'),
            AWS_ACCESS_KEY_ID: e.accessKeyId,
            AWS_SECRET_ACCESS_KEY: e.secretAccessKey,
            AWS_REGION: e.region,
            // Go reads its trusted roots from SSL_CERT_FILE (s5cmd and rclone alike).
            ...(e.caBundle ? { SSL_CERT_FILE: e.caBundle } : {}),
            ...o.env,
          },
          { ...o, cwd: o.cwd ?? dir },
        ),
      ),

    /** rclone with one remote, RCLONE_REMOTE, configured through the environment only. */
    rclone: (e: S3Endpoint, args: string[], o: RunOptions = {}) =>
      withScratch((dir) => {
        const remote = `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_`;
        return execute(
          [...tools.rclone, ...args],
          {
            ...baseEnv(),
            RCLONE_CONFIG: join(dir, 'no-rclone.conf'),
            [`${remote}TYPE`]: 's3',
            [`${remote}PROVIDER`]: 'Other',
            [`${remote}ENV_AUTH`]: 'false',
            [`${remote}ACCESS_KEY_ID`]: e.accessKeyId,
            [`${remote}SECRET_ACCESS_KEY`]: e.secretAccessKey,
            [`${remote}REGION`]: e.region,
            [`${remote}ENDPOINT`]: e.url,
            [`${remote}FORCE_PATH_STYLE`]: 'true',
            ...(e.caBundle ? { SSL_CERT_FILE: e.caBundle } : {}),
            ...o.env,
          },
          { ...o, cwd: o.cwd ?? dir },
        );
      }),
  };
}
