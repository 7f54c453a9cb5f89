import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './ports.js';
import { tetherToThisProcess } from './tether.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Peak resident memory of the process so far (VmHWM), in bytes. */
  peakRss(): Promise<number>;
  rss(): Promise<number>;
  kill(signal: NodeJS.Signals): Promise<void>;
  output(): string;
}

async function statusField(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** `npm run worker` as its own OS process: tests SIGKILL it like a crash would, the benchmark reads its memory. */
export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/worker.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  tetherToThisProcess(child.pid!, 'KILL');
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4_000_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4_000_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(
    'worker process',
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${out.slice(-2000)}`);
      if (!out.includes('lakesync worker polling')) throw new Error('not polling yet');
    },
    90_000,
  );
  return {
    child,
    peakRss: () => statusField(child.pid!, 'VmHWM'),
    rss: () => statusField(child.pid!, 'VmRSS'),
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    output: () => out,
  };
}
