/**
 * `npm run bench -- --s3-endpoint`: what real S3 clients (s5cmd and
 * `aws s3 cp --recursive`) get from each target endpoint, side by side: PUT then
 * GET of many small files and of one big file. Each target is an S3 endpoint;
 * one that names a pid also has that process's peak RSS measured per run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { S3ClientTools } from '../infra/s3-clients.js';
import { s3Clients, type S3Endpoint } from '../test/support/s3-clients.js';
import { peakRssSince, resetPeakRss } from './rss.js';
import { cpuSpent } from './cpu.js';
import type { Row } from './report.js';

export interface S3BenchTarget {
  name: string;
  endpoint: S3Endpoint;
  /** An existing bucket the target's credentials may write. */
  bucket: string;
  /** The process serving the endpoint, for its peak RSS. */
  pid?: number;
}

export interface S3BenchOptions {
  targets: S3BenchTarget[];
  tools: S3ClientTools;
  scratch: string;
  files: number;
  fileKiB: number;
  bigMiB: number;
  /** Requests each tool keeps in flight (s5cmd workers, the aws CLI's max_concurrent_requests). */
  concurrency: number;
  /** CPU seconds used so far by each component (bench/cpu.ts), to print what each run cost them. */
  cpu?: () => Promise<Map<string, number>>;
  log: (m: string) => void;
}

const MiB = 1024 * 1024;
/** Generous: a slow target should show as slow, not as a killed run. */
const TIMEOUT_MS = 60 * 60 * 1000;

async function fileSha(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Count and total size of the files under a directory (what a GET must have brought back). */
async function tally(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

async function writeInputs(o: S3BenchOptions): Promise<{ small: string; big: string; bigSha: string }> {
  const small = join(o.scratch, 'in', 'small');
  const big = join(o.scratch, 'in', 'big.bin');
  await mkdir(small, { recursive: true });
  const limit = pLimit(32);
  await Promise.all(
    Array.from({ length: o.files }, (_, i) => limit(() => writeFile(join(small, `f${String(i).padStart(6, '0')}.bin`), randomBytes(o.fileKiB * 1024)))),
  );
  const out = await open(big, 'w');
  try {
    for (let left = o.bigMiB * MiB; left > 0; left -= 8 * MiB) await out.write(randomBytes(Math.min(left, 8 * MiB)));
  } finally {
    await out.close();
  }
  return { small, big, bigSha: await fileSha(big) };
}

interface Tool {
  name: string;
  putDir(e: S3Endpoint, dir: string, url: string): Promise<unknown>;
  getDir(e: S3Endpoint, url: string, dir: string): Promise<unknown>;
  putFile(e: S3Endpoint, file: string, url: string): Promise<unknown>;
  getFile(e: S3Endpoint, url: string, file: string): Promise<unknown>;
}

function benchTools(o: S3BenchOptions): Tool[] {
  const run = s3Clients(o.tools);
  const timeoutMs = TIMEOUT_MS;
  const s5 = (e: S3Endpoint, args: string[]) => run.s5cmd(e, ['--numworkers', String(o.concurrency), ...args], { timeoutMs });
  const aws = (e: S3Endpoint, args: string[]) =>
    run.aws(e, ['s3', 'cp', ...args, '--only-show-errors'], {
      timeoutMs,
      awsS3Config: [`max_concurrent_requests = ${o.concurrency}`, `max_queue_size = ${o.concurrency * 100}`],
    });
  return [
    {
      name: 's5cmd',
      putDir: (e, dir, url) => s5(e, ['cp', `${dir}/*`, `${url}/`]),
      getDir: (e, url, dir) => s5(e, ['cp', `${url}/*`, `${dir}/`]),
      putFile: (e, file, url) => s5(e, ['cp', file, url]),
      getFile: (e, url, file) => s5(e, ['cp', url, file]),
    },
    {
      name: 'aws s3 cp',
      putDir: (e, dir, url) => aws(e, [dir, `${url}/`, '--recursive']),
      getDir: (e, url, dir) => aws(e, [`${url}/`, dir, '--recursive']),
      putFile: (e, file, url) => aws(e, [file, url]),
      getFile: (e, url, file) => aws(e, [url, file]),
    },
  ];
}

/** Runs every tool against every target; each GET is checked (count and bytes, the big file by SHA-256) outside the timing. */
export async function s3EndpointBench(o: S3BenchOptions): Promise<Row[]> {
  o.log(`writing ${o.files} × ${o.fileKiB} KiB files and one ${o.bigMiB} MiB file`);
  const inputs = await writeInputs(o);
  const rows: Row[] = [];
  const smallScenario = `${o.files} × ${o.fileKiB} KiB`;
  const bigScenario = `1 × ${o.bigMiB} MiB`;
  for (const target of o.targets) {
    for (const tool of benchTools(o)) {
      const prefix = `s3://${target.bucket}/bench-${tool.name.replace(/\W+/g, '-')}-${randomBytes(3).toString('hex')}`;
      const out = join(o.scratch, 'out');
      const measure = async (scenario: string, objects: number, bytes: number, fn: () => Promise<unknown>) => {
        o.log(`${target.name} · ${tool.name} · ${scenario}`);
        if (target.pid) await resetPeakRss(target.pid);
        const cpuBefore = await o.cpu?.();
        const started = performance.now();
        await fn();
        const seconds = (performance.now() - started) / 1000;
        const cpuSeconds = cpuBefore && o.cpu ? cpuSpent(cpuBefore, await o.cpu()) : undefined;
        const peakRssMiB = target.pid ? (await peakRssSince(target.pid)) / MiB : undefined;
        rows.push({ target: target.name, tool: tool.name, scenario, seconds, objects, bytes, peakRssMiB, cpuSeconds });
      };
      await rm(out, { recursive: true, force: true });
      await mkdir(out, { recursive: true });

      await measure(`PUT ${smallScenario}`, o.files, o.files * o.fileKiB * 1024, () => tool.putDir(target.endpoint, inputs.small, `${prefix}/small`));
      await measure(`GET ${smallScenario}`, o.files, o.files * o.fileKiB * 1024, () => tool.getDir(target.endpoint, `${prefix}/small`, join(out, 'small')));
      const back = await tally(join(out, 'small'));
      if (back.files !== o.files || back.bytes !== o.files * o.fileKiB * 1024)
        throw new Error(`${target.name} · ${tool.name}: GET brought back ${back.files} files, ${back.bytes} bytes`);

      await measure(`PUT ${bigScenario}`, 1, o.bigMiB * MiB, () => tool.putFile(target.endpoint, inputs.big, `${prefix}/big.bin`));
      await measure(`GET ${bigScenario}`, 1, o.bigMiB * MiB, () => tool.getFile(target.endpoint, `${prefix}/big.bin`, join(out, 'big.bin')));
      if ((await fileSha(join(out, 'big.bin'))) !== inputs.bigSha) throw new Error(`${target.name} · ${tool.name}: the big file came back different`);
      await rm(out, { recursive: true, force: true });
    }
  }
  return rows;
}

/** Rates per tool and target, and each rate as a share of the first target's (the reference, e.g. direct MinIO). */
export function printS3Table(rows: Row[]): void {
  const reference = new Map<string, number>();
  const first = rows[0]?.target;
  for (const r of rows) if (r.target === first) reference.set(`${r.tool}|${r.scenario}`, r.seconds);
  console.table(
    rows.map((r) => {
      const ref = reference.get(`${r.tool}|${r.scenario}`);
      return {
        target: r.target,
        tool: r.tool,
        scenario: r.scenario,
        seconds: r.seconds.toFixed(2),
        'objects/s': (r.objects / r.seconds).toFixed(0),
        'MiB/s': ((r.bytes ?? 0) / MiB / r.seconds).toFixed(1),
        [`rate vs ${first}`]: ref && r.target !== first ? `${((ref / r.seconds) * 100).toFixed(0)} %` : '',
        'peak RSS': r.peakRssMiB ? `${r.peakRssMiB.toFixed(0)} MiB` : '',
        // The client's own CPU is in 'exited children'.
        'CPU s': r.cpuSeconds
          ? Object.entries(r.cpuSeconds)
              .map(([k, v]) => `${k} ${v.toFixed(1)}`)
              .join(', ')
          : '',
      };
    }),
  );
}
