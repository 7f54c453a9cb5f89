import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeCliTypes, searchAttributes } from '../workflows/shared.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

export interface TemporalServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  stop(): Promise<void>;
}

export interface TemporalServerOptions {
  binary: string;
  /** Persist workflows across restarts (dev); omit for an in-memory server (tests). */
  dbFilename?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  namespace?: string;
  /** Dynamic config overrides (`KEY=JSON`), e.g. to make continue-as-new come sooner in tests. */
  dynamicConfig?: Record<string, unknown>;
  log: (message: string) => void;
}

/** Starts `temporal server start-dev` on loopback with lakesync's search attributes registered. */
export function startTemporalDevServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  return withFreshPorts(() => startOnce(opts));
}

async function startOnce(opts: TemporalServerOptions): Promise<TemporalServer> {
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await freePort());
  const ui = opts.ui ?? true;
  const uiPort = opts.uiPort ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(await freePort()),
    '--metrics-port',
    String(await freePort()),
    '--log-level',
    'error',
    '--namespace',
    namespace,
  ];
  if (ui) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (opts.dbFilename) {
    await mkdir(dirname(opts.dbFilename), { recursive: true });
    args.push('--db-filename', opts.dbFilename);
  }
  // A worker shutting down asks the server to complete its long polls instead of cutting them, so no task in transit is lost.
  const dynamicConfig = { 'frontend.enableCancelWorkerPollsOnShutdown': true, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=${searchAttributeCliTypes[key.type]}`);

  const child = spawn(opts.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  tetherToThisProcess(child.pid!, 'TERM');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    'Temporal dev server',
    async () => {
      if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${stderr}`);
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
      } finally {
        await connection.close();
      }
    },
    60_000,
  ).catch(async (err) => {
    await stopProcess(child, 'SIGKILL');
    throw err;
  });
  opts.log(`temporal: dev server on ${address}${ui ? `, Web UI http://127.0.0.1:${uiPort}` : ''}`);
  return {
    address,
    uiUrl: ui ? `http://127.0.0.1:${uiPort}` : undefined,
    namespace,
    stop: () => stopProcess(child, 'SIGTERM'),
  };
}
