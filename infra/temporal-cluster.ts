/**
 * A real Temporal cluster on loopback, as production runs one: the frontend,
 * history, matching and worker services as four processes of the pinned
 * server (infra/temporal-server-build.ts), on Postgres persistence with SQL
 * visibility, all started from config/temporal-server.yaml — the file
 * docker-compose.yml mounts. The schemas are made with Temporal's own schema
 * tool and the namespace and search attributes registered with the `temporal`
 * CLI, as the README tells an operator to.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { searchAttributeCliTypes, searchAttributes } from '../workflows/shared.js';
import { describe } from './binaries.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { exitReason } from './temporal-server.js';
import type { TemporalServerTools } from './temporal-server-build.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

const run = promisify(execFile);

/** The one server config for the tests and docker-compose. */
export const clusterConfigFile = fileURLToPath(new URL('../config/temporal-server.yaml', import.meta.url));
/** The schema script docker-compose's schema job runs. */
export const clusterSchemaScript = fileURLToPath(new URL('../config/temporal-schema.sh', import.meta.url));
/** Its dynamic config, mounted by docker-compose too. */
export const clusterDynamicConfigFile = fileURLToPath(new URL('../config/temporal-dynamic-config.yaml', import.meta.url));

/** Started in this order (frontend once history and matching listen), stopped in the reverse. */
export const clusterServiceNames = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterServiceName = (typeof clusterServiceNames)[number];

export interface ClusterService {
  readonly name: ClusterServiceName;
  /** Stops the process: gracefully (SIGTERM, the default), or as a crash (SIGKILL). */
  down(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same ports, and resolves once it listens. */
  up(): Promise<void>;
  /** The running process's id, if it runs. */
  pid(): number | undefined;
}

export interface TemporalCluster {
  /** The frontend's gRPC address: what TEMPORAL_ADDRESS is set to. */
  address: string;
  namespace: string;
  services: Record<ClusterServiceName, ClusterService>;
  /** The persistence and visibility databases, on the Postgres given. */
  databases: { persistence: string; visibility: string };
  /** Stops every service and drops both databases. */
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  tools: TemporalServerTools;
  /** The `temporal` CLI, to register the namespace and search attributes. */
  temporalCli: string;
  /** A Postgres superuser URL (the databases are created on its server). */
  postgresAdminUrl: string;
  namespace: string;
  log: (message: string) => void;
}

/** Creates the schemas, starts the four services and registers the namespace. */
export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const admin = new URL(opts.postgresAdminUrl);
  const suffix = randomBytes(4).toString('hex');
  const databases = { persistence: `temporal_${suffix}`, visibility: `temporal_visibility_${suffix}` };
  const pg = { host: admin.hostname, port: admin.port || '5432', user: decodeURIComponent(admin.username), password: decodeURIComponent(admin.password) };
  const services: Partial<Record<ClusterServiceName, ServiceProcess>> = {};
  const stopAll = async () => {
    for (const name of [...clusterServiceNames].reverse()) await services[name]?.down();
  };
  const dropDatabases = async () => {
    const sql = postgres(opts.postgresAdminUrl, { max: 1, onnotice: () => undefined });
    try {
      for (const db of Object.values(databases)) await sql.unsafe(`drop database if exists "${db}" with (force)`);
    } finally {
      await sql.end();
    }
  };
  try {
    const started = performance.now();
    await createSchemas(opts.tools.sqlTool, pg, databases);
    opts.log(`temporal cluster: schemas in ${databases.persistence} and ${databases.visibility}`);
    // A port drawn can be taken before the service binds it: then every service starts again on new ones.
    const env = await withFreshPorts(async () => {
      const drawn = await serviceEnv(pg, databases);
      try {
        for (const name of clusterServiceNames) {
          services[name] = serviceProcess(opts.tools.server, name, drawn, Number(drawn[grpcPortVar[name]]));
          await services[name].up();
        }
      } catch (err) {
        await stopAll();
        throw err;
      }
      return drawn;
    });
    const address = `127.0.0.1:${env.FRONTEND_GRPC_PORT}`;
    const cli = (...args: string[]) => run(opts.temporalCli, args, { env: { ...process.env, TEMPORAL_ADDRESS: address }, timeout: 60_000 });
    await waitUntil(
      'Temporal cluster',
      async () => {
        const { stdout } = await cli('operator', 'cluster', 'health');
        if (!/SERVING/.test(stdout)) throw new Error(stdout.trim());
      },
      120_000,
    );
    await registerNamespace(cli, opts.namespace);
    opts.log(`temporal cluster: four services on ${address}, namespace ${opts.namespace}, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return {
      address,
      namespace: opts.namespace,
      services: services as Record<ClusterServiceName, ClusterService>,
      databases,
      stop: async () => {
        await stopAll();
        await dropDatabases();
      },
    };
  } catch (err) {
    await stopAll();
    await dropDatabases().catch(() => undefined);
    throw err;
  }
}

type Pg = { host: string; port: string; user: string; password: string };

/** config/temporal-schema.sh, the script docker-compose's schema job runs, with the built schema tool. */
async function createSchemas(sqlTool: string, pg: Pg, databases: TemporalCluster['databases']): Promise<void> {
  const env = {
    PATH: process.env.PATH ?? '',
    TEMPORAL_SQL_TOOL: sqlTool,
    SQL_HOST: pg.host,
    SQL_PORT: pg.port,
    SQL_USER: pg.user,
    // Through the environment, not argv, where `ps` would show it.
    SQL_PASSWORD: pg.password,
    DBNAME: databases.persistence,
    VISIBILITY_DBNAME: databases.visibility,
  };
  await run('/bin/sh', [clusterSchemaScript], { env, timeout: 180_000 }).catch((err: unknown) => {
    throw new Error(`config/temporal-schema.sh failed: ${describe(err)}`);
  });
}

const grpcPortVar = {
  frontend: 'FRONTEND_GRPC_PORT',
  history: 'HISTORY_GRPC_PORT',
  matching: 'MATCHING_GRPC_PORT',
  worker: 'WORKER_GRPC_PORT',
} as const satisfies Record<ClusterServiceName, string>;

/**
 * The environment config/temporal-server.yaml reads, with ports drawn once:
 * a restarted service comes back where its peers and clients look for it.
 * Nothing else is inherited, so a variable of the test run's (LOG_LEVEL, say)
 * cannot reach the template.
 */
async function serviceEnv(pg: Pg, databases: TemporalCluster['databases']): Promise<Record<string, string>> {
  const ports: Record<string, string> = {};
  for (const name of clusterServiceNames) {
    ports[grpcPortVar[name]] = String(await freePort());
    ports[`${name.toUpperCase()}_MEMBERSHIP_PORT`] = String(await freePort());
  }
  ports.FRONTEND_HTTP_PORT = String(await freePort());
  return {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'warn',
    POSTGRES_SEEDS: pg.host,
    DB_PORT: pg.port,
    POSTGRES_USER: pg.user,
    POSTGRES_PWD: pg.password,
    DBNAME: databases.persistence,
    VISIBILITY_DBNAME: databases.visibility,
    // Four services' pools on a Postgres the rest of the test run shares.
    SQL_MAX_CONNS: '8',
    SQL_VIS_MAX_CONNS: '2',
    BIND_ON_IP: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: clusterDynamicConfigFile,
    ...ports,
  };
}

interface ServiceProcess extends ClusterService {
  output(): string;
}

function serviceProcess(binary: string, name: ClusterServiceName, env: Record<string, string>, grpcPort: number): ServiceProcess {
  let child: ChildProcess | undefined;
  let output = '';
  return {
    name,
    pid: () => child?.pid,
    output: () => output,
    down: async (signal = 'SIGTERM') => {
      if (child) await stopProcess(child, signal, 30_000);
      child = undefined;
    },
    up: async () => {
      output = '';
      const proc = spawn(binary, ['--config-file', clusterConfigFile, '--allow-no-auth', 'start', '--service', name], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      tetherToThisProcess(proc.pid!, 'TERM');
      const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-64_000));
      proc.stdout!.on('data', keep);
      proc.stderr!.on('data', keep);
      await waitUntil(
        `Temporal ${name} service`,
        async () => {
          if (proc.exitCode !== null) throw new GaveUp(`exited with ${proc.exitCode}: ${exitReason(output)}`);
          await listening(grpcPort);
        },
        120_000,
      ).catch(async (err: unknown) => {
        await stopProcess(proc, 'SIGKILL');
        throw err;
      });
    },
  };
}

function listening(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** The README's "A real Temporal cluster" steps, command for command. */
async function registerNamespace(cli: (...args: string[]) => Promise<{ stdout: string }>, namespace: string): Promise<void> {
  await cli('operator', 'namespace', 'create', '--namespace', namespace, '--retention', '30d');
  for (const key of Object.values(searchAttributes))
    await cli('operator', 'search-attribute', 'create', '--namespace', namespace, '--name', key.name, '--type', searchAttributeCliTypes[key.type]!);
  const { stdout } = await cli('operator', 'search-attribute', 'list', '--namespace', namespace);
  const missing = Object.values(searchAttributes).filter((key) => !stdout.includes(key.name));
  if (missing.length) throw new Error(`search attributes not registered: ${missing.map((k) => k.name).join(', ')}\n${stdout}`);
}
