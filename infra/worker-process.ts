import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './ports.js';
import { tetherToThisProcess } from './tether.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface LakesyncProcess {
  child: ChildProcess;
  /** Peak resident memory of the process so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  rss(): Promise<number>;
  /** Sends the signal (unless it has already exited) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Resolves when the process has exited, with how. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Its "ready" log line (the worker's names its metrics URL and workflow bundle). */
  ready: Record<string, unknown>;
}

export interface WorkerProcess extends LakesyncProcess {
  /** The worker's Prometheus endpoint, when WORKER_METRICS_PORT turned it on. */
  metricsUrl?: string;
}

export interface ApiProcess extends LakesyncProcess {
  url: string;
  /** host:port of its gRPC server. */
  grpcAddress: string;
}

export interface ProcessOptions {
  /** Run the compiled code in dist/ with plain node, as `npm start` / `npm run worker` do (run `npm run build` first). */
  built?: boolean;
  /** With `built`: the build's directory under the repository root instead of dist/ (a test's own build). */
  distDir?: string;
}

async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** The first JSON log line whose message starts with `prefix`. */
function logLine(out: string, prefix: string): Record<string, unknown> | undefined {
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry.msg === 'string' && entry.msg.startsWith(prefix)) return entry;
    } catch {
      // a line still being written
    }
  }
  return undefined;
}

/**
 * The last `limit` characters (about) of a process's output. Chunks are kept as they come and joined only when
 * read: re-slicing one growing string on every chunk copied megabytes per log line, which cost the benchmark's
 * own process more CPU than the API it was measuring.
 */
function outputTail(limit: number): { add: (chunk: string) => void; text: () => string } {
  let chunks: string[] = [];
  let length = 0;
  return {
    add: (chunk) => {
      chunks.push(chunk);
      length += chunk.length;
      // Drop whole chunks from the front while what is left still covers the limit.
      let drop = 0;
      while (drop < chunks.length - 1 && length - chunks[drop]!.length >= limit) length -= chunks[drop++]!.length;
      if (drop) chunks.splice(0, drop);
    },
    text: () => {
      const joined = chunks.join('').slice(-limit);
      chunks = [joined];
      length = joined.length;
      return joined;
    },
  };
}

async function startProcess(role: 'api' | 'worker', env: Record<string, string>, o: ProcessOptions, ready: string): Promise<LakesyncProcess> {
  // The flags `npm start` / `npm run worker` use; warnings reach the JSON log instead of stderr.
  const args = o.built
    ? ['--max-semi-space-size=16', '--enable-source-maps', '--no-warnings', `${o.distDir ?? 'dist'}/workers/${role}.js`]
    : ['--max-semi-space-size=16', '--no-warnings', '--import', 'tsx', `workers/${role}.ts`];
  // The malloc arenas `npm start` / `npm run worker` and the image allow (README "Scaling workers"), unless told otherwise.
  const child = spawn(process.execPath, args, { cwd: root, env: { MALLOC_ARENA_MAX: '2', ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  tetherToThisProcess(child.pid!, 'KILL');
  const tail = outputTail(4_000_000);
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', tail.add);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let readyLine: Record<string, unknown> | undefined;
  await waitUntil(
    `${role} process`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${role} exited ${child.exitCode}: ${tail.text().slice(-2000)}`);
      readyLine = logLine(tail.text(), ready);
      if (!readyLine) throw new Error('not ready yet');
    },
    90_000,
  );
  return {
    child,
    ready: readyLine!,
    exited,
    peakRss: () => statusField(child.pid!, 'VmHWM'),
    rss: () => statusField(child.pid!, 'VmRSS'),
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    output: tail.text,
  };
}

/** `npm run worker` as its own OS process: tests SIGKILL or SIGTERM it, the benchmark reads its memory. */
export async function startWorkerProcess(env: Record<string, string>, o: ProcessOptions = {}): Promise<WorkerProcess> {
  const p = await startProcess('worker', env, o, 'lakesync worker polling');
  return { ...p, metricsUrl: typeof p.ready.metricsUrl === 'string' ? p.ready.metricsUrl : undefined };
}

/** `npm start` as its own OS process. */
export async function startApiProcess(env: Record<string, string>, o: ProcessOptions = {}): Promise<ApiProcess> {
  const p = await startProcess('api', env, o, 'lakesync API listening on');
  return { ...p, url: String(p.ready.msg).replace('lakesync API listening on ', ''), grpcAddress: String(p.ready.grpcAddress) };
}
