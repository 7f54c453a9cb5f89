import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeCliTypes, searchAttributes } from '../workflows/shared.js';
import { freePort, GaveUp, preferredPort, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

export interface TemporalServer {
  address: string;
  pid: number;
  uiUrl?: string;
  namespace: string;
  /** Resolves when the server process has exited, however it was stopped. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface TemporalServerOptions {
  binary: string;
  /** Persist workflows across restarts (dev); omit for an in-memory server (tests). */
  dbFilename?: string;
  port?: number;
  uiPort?: number;
  /** Ports to use when free (Temporal's conventional 7233 and 8233), else drawn ones; `port` and `uiPort` are used as given. */
  preferPort?: number;
  preferUiPort?: number;
  ui?: boolean;
  namespace?: string;
  /** Dynamic config overrides (`KEY=JSON`), e.g. to make continue-as-new come sooner in tests. */
  dynamicConfig?: Record<string, unknown>;
  log: (message: string) => void;
}

/** Starts `temporal server start-dev` on loopback with lakesync's search attributes registered. */
export function startTemporalDevServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  return withFreshPorts((attempt) => startOnce(opts, attempt));
}

/**
 * The line of the server's output that says why it exited (a taken port,
 * say), ahead of the rest: the Go server can print a page of start-up
 * wiring around it.
 */
export function exitReason(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const reason =
    lines.find((l) => /address already in use/i.test(l)) ??
    lines.findLast((l) => /^Error:/.test(l)) ??
    lines.findLast((l) => /error|fatal/i.test(l)) ??
    lines.at(-1) ??
    '';
  return lines.length > 1 ? `${reason}\n${output.trim().slice(-2000)}` : reason;
}

async function startOnce(opts: TemporalServerOptions, attempt: number): Promise<TemporalServer> {
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await preferredPort(opts.preferPort, attempt));
  const ui = opts.ui ?? true;
  const uiPort = opts.uiPort ?? (await preferredPort(opts.preferUiPort, attempt));
  const httpPort = await freePort();
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(httpPort),
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
  // Fairness keys (an organisation's) are honoured only with fairness on: off by default in server 1.32 (README "Tenant fairness").
  // A controller continues as new after every run; when a run continues as new less than this after it started, the
  // server holds back the next run's first task for the rest of it (1 s by default), so a run right after a short one
  // (a burst of change notifications) started up to a second late. 100 ms still stops a tight loop.
  // The same values as config/temporal-dynamic-config.yaml, which the cluster and docker-compose read.
  const dynamicConfig = {
    'frontend.enableCancelWorkerPollsOnShutdown': true,
    'matching.enableFairness': true,
    'history.workflowIdReuseMinimalInterval': '100ms',
    ...opts.dynamicConfig,
  };
  for (const [key, value] of Object.entries(dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const key of Object.values(searchAttributes)) args.push('--search-attribute', `${key.name}=${searchAttributeCliTypes[key.type]}`);

  // stdout too: the Web UI, which binds its port after the CLI has checked it, reports that port taken there alone, then exits 1.
  const child = spawn(opts.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Unlike 'exit', 'close' comes once the output has been read to its end, with the reason in it.
  let closed = false;
  child.once('close', () => (closed = true));
  tetherToThisProcess(child.pid!, 'TERM');
  let output = '';
  const keep = (chunk: Buffer) => {
    // Enough to keep the reason line when the server prints a page after it.
    output = (output + chunk.toString()).slice(-64_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const address = `127.0.0.1:${port}`;
  await waitUntil(
    'Temporal dev server',
    async () => {
      if (closed) throw new GaveUp(`exited with ${child.exitCode ?? child.signalCode}: ${exitReason(output)}`);
      // Another server may answer on a conventional port this one failed to bind: only ours answers on its drawn HTTP port.
      const own = await fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces/${encodeURIComponent(namespace)}`, { signal: AbortSignal.timeout(1000) });
      // Only the status matters: the body is dropped, so its connection is not held until garbage collection.
      await own.body?.cancel().catch(() => undefined);
      if (!own.ok) throw new Error(`HTTP API answered ${own.status}`);
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
    pid: child.pid!,
    uiUrl: ui ? `http://127.0.0.1:${uiPort}` : undefined,
    namespace,
    exited,
    stop: () => stopProcess(child, 'SIGTERM'),
  };
}
