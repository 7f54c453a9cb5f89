import { readdir, readFile } from 'node:fs/promises';

/** Linux reports CPU time in clock ticks; 100 per second on every common kernel build. */
const TICKS = 100;

/**
 * CPU seconds used so far, by component: every live process grouped by its
 * command name (the lakesync worker, and any process in `named`, by its pid), plus the children this
 * process has reaped (rclone and aws runs, which exit before a snapshot).
 */
export async function cpuSnapshot(workerPid: number | undefined, named: Record<string, number | undefined> = {}): Promise<Map<string, number>> {
  const byPid = new Map(Object.entries(named).flatMap(([name, pid]) => (pid === undefined ? [] : [[pid, name] as const])));
  const out = new Map<string, number>();
  const add = (k: string, v: number) => out.set(k, (out.get(k) ?? 0) + v);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: utime and stime are the 12th and 13th, cutime and cstime the 14th and 15th.
    const own = (Number(f[11]) + Number(f[12])) / TICKS;
    if (Number(entry) === workerPid) add('lakesync worker', own);
    else if (byPid.has(Number(entry))) add(byPid.get(Number(entry))!, own);
    else if (Number(entry) === process.pid) {
      add('bench + API', own);
      add('exited children', (Number(f[13]) + Number(f[14])) / TICKS);
    } else if (['minio', 'postgres', 'temporal'].includes(comm)) add(comm, own);
  }
  return out;
}

/** What each component spent between two snapshots, in CPU seconds (only those that moved). */
export function cpuSpent(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d >= 0.01) spent[k] = Math.round(d * 100) / 100;
  }
  return spent;
}

/**
 * Waits until the services are quiet: less than `busy` CPU seconds spent by all
 * of them over a half-second window (MinIO alone idles near 0.04 s of it), at most
 * `capMs`. A run that starts while MinIO is still settling the last tool's
 * writes or Postgres is vacuuming would be charged for their work. Returns the
 * seconds waited.
 */
export async function settle(workerPid: number | undefined, busy = 0.1, capMs = 15_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    const before = await cpuSnapshot(workerPid);
    await new Promise((r) => setTimeout(r, 500));
    const spent = Object.values(cpuSpent(before, await cpuSnapshot(workerPid))).reduce((a, b) => a + b, 0);
    const waited = performance.now() - start;
    if (spent < busy || waited >= capMs) return waited / 1000;
  }
}
