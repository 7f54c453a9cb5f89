import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Row {
  /** The endpoint measured, when a run compares several (the S3 endpoint benchmark). */
  target?: string;
  tool: string;
  scenario: string;
  seconds: number;
  /** Every run's seconds, when the scenario was repeated (`seconds` is their median). */
  runs?: number[];
  objects: number;
  bytes?: number;
  peakRssMiB?: number;
  /** CPU seconds each component spent during the run (MinIO serves every tool; the rest is the tool's own). */
  cpuSeconds?: Record<string, number>;
}

/** One table: time, rate, and how each tool compares with lakesync in the same scenario. */
export function printTable(rows: Row[]): void {
  const lakesyncTime = new Map(rows.filter((r) => r.tool === 'lakesync').map((r) => [r.scenario, r.seconds]));
  const lines = rows.map((r) => {
    const ours = lakesyncTime.get(r.scenario);
    return {
      scenario: r.scenario,
      tool: r.tool,
      seconds: r.seconds.toFixed(2),
      'objects/s': (r.objects / r.seconds).toFixed(0),
      'time vs lakesync': ours ? `${(r.seconds / ours).toFixed(2)}×` : '',
      'worker peak RSS': r.peakRssMiB ? `${r.peakRssMiB.toFixed(0)} MiB` : '',
      'CPU s: MinIO / rest': r.cpuSeconds
        ? `${(r.cpuSeconds.minio ?? 0).toFixed(1)} / ${Object.entries(r.cpuSeconds)
            .filter(([k]) => k !== 'minio')
            .reduce((a, [, v]) => a + v, 0)
            .toFixed(1)}`
        : '',
    };
  });
  console.table(lines);
}

export async function writeResults(kind: string, params: Record<string, number>, rows: Row[], extra: Record<string, unknown> = {}): Promise<string> {
  const dir = new URL('./results/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ kind, at: new Date().toISOString(), node: process.version, params, rows, ...extra }, null, 2) + '\n');
  console.log(`results written to ${file}`);
  return file;
}
