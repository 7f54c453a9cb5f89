import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starts a tiny watchdog that kills `pid` once this Node process is gone, even
 * after `kill -9`: servers started for dev and tests must never outlive us.
 */
export function tetherToThisProcess(pid: number, signal: 'INT' | 'TERM' | 'KILL' = 'TERM'): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -${signal} ${pid} 2>/dev/null; sleep 10; kill -KILL ${pid} 2>/dev/null; exit 0`;
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

/** Resolves when the process exits; sends `signal` first, then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
