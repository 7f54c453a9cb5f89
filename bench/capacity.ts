/**
 * `npm run bench -- --capacity`: the measured per-key costs behind README's
 * "Scaling to 100 million objects". A directory source of `--capacity-keys`
 * small files is synced into the lake, then resynced with nothing changed and
 * with 1 % changed. Each phase reports the Postgres time its statements took
 * (pg_stat_statements), the blocks they touched, the WAL written, each
 * component's CPU and the job's Temporal history events; the checkpoint
 * table's bytes per row and per index entry are read after a VACUUM. The model
 * scales those to 100 million objects across 1,000 sources.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { Sql } from 'postgres';
import { historyChain } from '../test/support/history.js';
import { syncRunWorkflowId } from '../workflows/shared.js';
import { cpuSnapshot, cpuSpent } from './cpu.js';

interface CapacityInput {
  keys: number;
  dir: string;
  sql: Sql;
  client: Client;
  workerPid: number | undefined;
  callApi: (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;
  log: (line: string) => void;
}

export interface PhaseCost {
  phase: string;
  seconds: number;
  objectsListed: number;
  objectsCopied: number;
  statements: number;
  sqlMs: number;
  /** 8 KiB buffers found in shared buffers / read from the OS / dirtied. */
  blocksHit: number;
  blocksRead: number;
  blocksDirtied: number;
  walBytes: number;
  cpuSeconds: Record<string, number>;
  historyEvents: number;
}

export interface TableSizes {
  rows: number;
  avgKeyBytes: number;
  heapBytes: number;
  toastBytes: number;
  indexBytes: Record<string, number>;
}

const TOTAL_OBJECTS = 100_000_000;
const SOURCES = 1_000;
const INTERVALS: [string, number][] = [
  ['5 min', 300],
  ['1 h', 3600],
  ['24 h', 86_400],
];

/** A lake-like key: partitioned by day, ~45 bytes. */
const keyOf = (i: number) =>
  `year=2026/month=${String(1 + (Math.floor(i / 28_000) % 12)).padStart(2, '0')}/day=${String(1 + (Math.floor(i / 1000) % 28)).padStart(2, '0')}/events-${String(i).padStart(7, '0')}.json`;

async function writeTree(dir: string, keys: number, log: (line: string) => void): Promise<string[]> {
  log(`writing ${keys} files`);
  const all = Array.from({ length: keys }, (_, i) => keyOf(i));
  const dirs = new Set(all.map((k) => k.slice(0, k.lastIndexOf('/'))));
  for (const d of dirs) await mkdir(join(dir, d), { recursive: true });
  const limit = pLimit(64);
  await Promise.all(all.map((k) => limit(() => writeFile(join(dir, k), '{}\n'))));
  return all;
}

/** The job's workflow, once it has ended, and every event across its continue-as-new chain. */
async function jobEvents(client: Client, sql: Sql, jobId: string): Promise<number> {
  for (;;) {
    try {
      await client.workflow.getHandle(syncRunWorkflowId(jobId)).result();
      break;
    } catch (err) {
      // Started by the controller a moment after the API answers.
      if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const [row] = await sql<{ run_id: string }[]>`select run_id from jobs where id = ${jobId}`;
  return (await historyChain(client, syncRunWorkflowId(jobId), row!.run_id)).length;
}

async function measurePhase(input: CapacityInput, phase: string, sourceId: string): Promise<PhaseCost> {
  const { sql, client, workerPid } = input;
  await sql`select pg_stat_statements_reset()`;
  const [{ lsn }] = (await sql`select pg_current_wal_lsn()::text as lsn`) as unknown as [{ lsn: string }];
  const cpuBefore = await cpuSnapshot(workerPid);
  const start = performance.now();
  const { jobId } = (await input.callApi('POST', `/bench/sources/${sourceId}/discover`, {})) as { jobId: string };
  const historyEvents = await jobEvents(client, sql, jobId);
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSpent(cpuBefore, await cpuSnapshot(workerPid));
  // This file's own statements (the reset, the LSN, the job's run id) are not the job's.
  const [stats] = await sql<{ calls: string; ms: number; hit: string; read: string; dirtied: string }[]>`
    select coalesce(sum(calls), 0) as calls, coalesce(sum(total_exec_time), 0)::float8 as ms,
      coalesce(sum(shared_blks_hit), 0) as hit, coalesce(sum(shared_blks_read), 0) as read, coalesce(sum(shared_blks_dirtied), 0) as dirtied
    from pg_stat_statements where query not ilike '%pg_stat_statements%' and query not ilike '%pg_current_wal_lsn%' and query not ilike 'select run_id from jobs%'`;
  const [{ wal }] = (await sql`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${lsn}::pg_lsn)::float8 as wal`) as unknown as [{ wal: number }];
  const [job] = await sql<{ objects_listed: number; objects_processed: number }[]>`select objects_listed, objects_processed from jobs where id = ${jobId}`;
  return {
    phase,
    seconds,
    objectsListed: Number(job!.objects_listed),
    objectsCopied: Number(job!.objects_processed),
    statements: Number(stats!.calls),
    sqlMs: stats!.ms,
    blocksHit: Number(stats!.hit),
    blocksRead: Number(stats!.read),
    blocksDirtied: Number(stats!.dirtied),
    walBytes: wal,
    cpuSeconds,
    historyEvents,
  };
}

async function tableSizes(sql: Sql, sourceId: string): Promise<TableSizes> {
  // Steady state: dead row versions from the ingest's updates are reclaimable space, not growth.
  await sql`vacuum analyze source_objects`;
  const [counts] = await sql<{ rows: string; key_bytes: number }[]>`
    select count(*) as rows, avg(octet_length(key))::float8 as key_bytes from source_objects where source_id = ${sourceId}`;
  const [heap] = await sql<{ heap: string; toast: string }[]>`
    select pg_relation_size(c.oid) as heap, coalesce(pg_total_relation_size(c.reltoastrelid), 0) as toast
    from pg_class c where c.relname = 'source_objects'`;
  const indexes = await sql<{ name: string; bytes: string }[]>`
    select c.relname as name, pg_relation_size(c.oid) as bytes from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid = 'source_objects'::regclass order by c.relname`;
  return {
    rows: Number(counts!.rows),
    avgKeyBytes: counts!.key_bytes,
    heapBytes: Number(heap!.heap),
    toastBytes: Number(heap!.toast),
    indexBytes: Object.fromEntries(indexes.map((i) => [i.name, Number(i.bytes)])),
  };
}

const GiB = 1024 ** 3;
const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Per-key costs scaled to 100 million objects across 1,000 sources. */
export function printModel(sizes: TableSizes, phases: PhaseCost[], log: (line: string) => void): void {
  const perRow = (b: number) => b / sizes.rows;
  const indexTotal = Object.values(sizes.indexBytes).reduce((a, b) => a + b, 0);
  log(`checkpoint table: ${sizes.rows} rows, keys ${fmt(sizes.avgKeyBytes)} bytes on average`);
  log(`  heap ${fmt(perRow(sizes.heapBytes))} B/row, toast ${fmt(perRow(sizes.toastBytes))} B/row, indexes ${fmt(perRow(indexTotal))} B/row:`);
  for (const [name, bytes] of Object.entries(sizes.indexBytes))
    log(`    ${name}: ${fmt(perRow(bytes))} B/row → ${fmt((perRow(bytes) * TOTAL_OBJECTS) / GiB)} GiB at 100M`);
  const total = perRow(sizes.heapBytes + sizes.toastBytes + indexTotal) * TOTAL_OBJECTS;
  log(
    `  100M objects: ${fmt(total / GiB)} GiB (heap ${fmt((perRow(sizes.heapBytes) * TOTAL_OBJECTS) / GiB)} GiB, indexes ${fmt((perRow(indexTotal) * TOTAL_OBJECTS) / GiB)} GiB)`,
  );
  const perSource = TOTAL_OBJECTS / SOURCES;
  for (const p of phases) {
    const keys = Math.max(1, p.objectsListed);
    const cpu = (name: string) => (p.cpuSeconds[name] ?? 0) / keys;
    log(
      `${p.phase}: ${p.objectsListed} listed, ${p.objectsCopied} copied in ${fmt(p.seconds, 2)} s; per 1,000 keys: ` +
        `${fmt((p.statements * 1000) / keys)} statements, ${fmt((p.sqlMs * 1000) / keys, 2)} ms SQL, ` +
        `${fmt((p.blocksHit + p.blocksRead) * (1000 / keys))} blocks touched (${fmt((p.blocksRead * 1000) / keys)} read, ${fmt((p.blocksDirtied * 1000) / keys)} dirtied), ` +
        `${fmt(p.walBytes / keys / 1.024)} KiB WAL, CPU s ${Object.entries(p.cpuSeconds)
          .map(([k, v]) => `${k} ${fmt((v * 1000) / keys, 3)}`)
          .join(', ')}; ${p.historyEvents} history events in the job`,
    );
    if (p.objectsCopied === p.objectsListed) {
      // Every key copied: a one-off cost, in totals. Its history grows with the batches, so per key.
      const total = (perKey: number) => perKey * TOTAL_OBJECTS;
      log(
        `  first sync of 100M keys: ${fmt(total(p.sqlMs / 1000 / keys) / 3600)} h of statement time, ${fmt(total(p.walBytes / keys) / GiB)} GiB WAL, ` +
          `${fmt(total(cpu('lakesync worker')) / 3600)} worker core-hours, ${fmt(total(cpu('postgres')) / 3600)} Postgres core-hours, ` +
          `${fmt(total(p.historyEvents / keys) / 1e6)} million history events`,
      );
      continue;
    }
    // A resync: every key listed and diffed; its history is a scan activity and bookkeeping, the same for any source size.
    for (const [label, seconds] of INTERVALS) {
      const perSecond = (perKey: number) => (perKey * TOTAL_OBJECTS) / seconds;
      log(
        `  100M keys (${SOURCES.toLocaleString('en-US')} sources × ${perSource.toLocaleString('en-US')}) every ${label}: ` +
          `Postgres ${fmt(perSecond(p.sqlMs / 1000 / keys), 2)} cores of statement time (${fmt(perSecond(cpu('postgres')), 2)} cores of its CPU), ` +
          `${fmt(perSecond((p.blocksHit + p.blocksRead) / keys), 0)} buffer reads/s, ${fmt(perSecond(p.walBytes / keys) / 1024 ** 2, 2)} MiB/s WAL, ` +
          `workers ${fmt(perSecond(cpu('lakesync worker')), 2)} cores, Temporal ${fmt((p.historyEvents * SOURCES) / seconds, 1)} history events/s`,
      );
    }
  }
}

export async function capacityModel(input: CapacityInput): Promise<{ sizes: TableSizes; phases: PhaseCost[] }> {
  const { sql, log } = input;
  await sql`create extension if not exists pg_stat_statements`;
  const keys = await writeTree(input.dir, input.keys, log);
  const source = await input.callApi('POST', '/bench/sources', {
    name: 'capacity',
    kind: 'filesystem',
    filesystem: { path: input.dir },
    syncIntervalSeconds: 86_400,
  });
  const sourceId = String(source.sourceId);
  const phases: PhaseCost[] = [];
  log('phase: first sync (every key new, listed and copied)');
  phases.push(await measurePhase(input, 'first sync', sourceId));
  const sizes = await tableSizes(sql, sourceId);
  log('phase: no-change resync');
  phases.push(await measurePhase(input, 'no-change resync', sourceId));
  const changed = keys.filter((_, i) => i % 100 === 0);
  const later = new Date(Date.now() + 60_000);
  await Promise.all(changed.map((k) => writeFile(join(input.dir, k), '{"changed":true}\n').then(() => utimes(join(input.dir, k), later, later))));
  log(`phase: 1%-changed resync (${changed.length} files rewritten)`);
  phases.push(await measurePhase(input, '1%-changed resync', sourceId));
  printModel(sizes, phases, log);
  return { sizes, phases };
}
