import { readFile, writeFile } from 'node:fs/promises';

/** Resets the kernel's peak-RSS mark (VmHWM) of a process of ours, so the next reading covers one run only. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** The process's peak RSS in bytes since its last reset (or its start). */
export async function peakRssSince(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}
