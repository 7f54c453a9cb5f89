import { ApplicationFailure, Context } from '@temporalio/activity';
import * as catalog from '../catalog/index.js';
import { FAILURE } from '../domain/failures.js';
import { storedErrorText } from '../domain/error-text.js';
import { autoShardCount, cutsAtGroups, keptSplit, rangesFromCuts, withinShard, type ShardRange } from '../domain/shards.js';
import { kindedConnection, type KindedConnection } from '../domain/source-kinds.js';
import { reconcileWithDefaults, type ReconcileSettings } from '../domain/source-config.js';
import type { SourceKind } from '../domain/kinds.js';
import type { SourceRow } from '../db/schema.js';
import { recorded } from '../metrics/registry.js';
import type { ActivityDeps } from './deps.js';
import { asPermanent, withOutagePatience, type ScanCheckpoint, type ScanInput, type ScanProgress } from './discovery.js';
import { destinationFailure } from './net/destination-failure.js';
import { serverDown } from './net/outage.js';
import { PagedListing } from './storage/prefetch.js';
import { pageFilter } from './page-filter.js';
import { QuietPages } from './quiet-pages.js';
import { findSourceRow, loadSource, type SourceContext } from './source-context.js';
import { SOURCE_READERS } from './storage/source-readers.js';
import type { ListedObject } from './storage/types.js';
import type { SyncRunResult } from '../domain/messages/workflows/v1.js';

/** What discovery.ts lends the sharded scan: the same filter-drift, delete-limit and sweep steps a single scan takes. */
export interface ScanSteps {
  recordUnmatched(ctx: SourceContext, input: ScanInput, pass: number, page: ListedObject[], onFilterDrift: boolean): Promise<void>;
  checkDeleteLimit(input: ScanInput, pass: number, reconcile: ReconcileSettings): Promise<void>;
  sweep(ctx: SourceContext, input: ScanInput, cp: ScanCheckpoint, onDelete: boolean): Promise<number>;
}

export interface ShardScanInput {
  jobId: string;
  sourceId: string;
  fullSync: boolean;
  shard: number;
  /** The first shard to find every shard finished sweeps, and ends the job if nothing is owed (workflows/sync-run.ts, SCAN_ENDS_JOB). */
  endJob?: boolean;
}

/** What the sweep of a complete sharded scan found, and the job's end when it ended it. */
export interface ShardSweep {
  deleted: number;
  /** Absent from results recorded before it was asked. */
  owes?: boolean;
  ended?: SyncRunResult;
}

/**
 * Where the kind lets a first scan cut (its registry entry), when the catalog
 * cannot yet. A fan-out the source refuses or cannot answer leaves one shard:
 * the scan then meets the same error and fails the run as a single scan would,
 * instead of this bookkeeping step retrying it.
 */
async function groupStarts<K extends SourceKind>(deps: ActivityDeps, source: SourceRow, c: KindedConnection<K>, actx: Context): Promise<string[]> {
  const sharding = SOURCE_READERS[c.kind].sharding;
  if (sharding.split === 'one') return [];
  try {
    return await sharding.groups(deps, source, c.settings);
  } catch (err) {
    actx.log.warn('could not list where the source could be cut: one shard', { sourceId: source.id, error: storedErrorText(err) });
    return [];
  }
}

export function shardedScanActivities(deps: ActivityDeps, steps: ScanSteps) {
  const sql = deps.db.$client;

  async function scanShardOnce(input: ShardScanInput, seen: ScanProgress): Promise<{ listed: number }> {
    const actx = Context.current();
    const ctx = await loadSource(deps, input.sourceId);
    const { source, reader } = ctx;
    const filter = pageFilter(source.filters, reader);
    const reconcile = reconcileWithDefaults(source.reconcile);
    const shard = await catalog.readShard(sql, input.jobId, input.shard);
    if (!shard)
      throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: `job ${input.jobId} has no shard ${input.shard}`, nonRetryable: true });
    const sourceFailed = (what: string) => (err: unknown) => {
      seen.sourceDown = serverDown(err);
      throw (
        destinationFailure(err, deps.egress, (detail) => actx.log.warn(`source ${what} failed`, { sourceId: input.sourceId, jobId: input.jobId, ...detail })) ??
        asPermanent(ctx.kind, err)
      );
    };
    // Resumes from the shard's own committed cursor: a shard lost with its worker re-lists at most one page.
    let cursor = shard.cursor;
    let listed = shard.listed;
    let finished = shard.finished;
    const listing = finished ? null : new PagedListing(reader, deps.listPageSize, deps.tenants, actx.info.priority?.fairnessKey, cursor ?? shard.after);
    const quietPages = new QuietPages(sql);
    while (!finished) {
      const from = cursor ?? shard.after;
      const page = await listing!.take((raw) => withinShard(raw.objects, raw.nextAfterKey, shard.upTo)).catch(sourceFailed('listing'));
      seen.answered = true;
      const last = page.nextAfterKey === null;
      // The range this page covers: to the next page's start, or to the shard's end.
      const to = last ? shard.upTo : page.nextAfterKey;
      const { matched, unmatched } = await filter(page.objects).catch(sourceFailed('HEAD'));
      await steps.recordUnmatched(ctx, input, shard.pass, unmatched, reconcile.onFilterDrift);
      const superseded = () => ApplicationFailure.create({ type: FAILURE.scanSuperseded, message: 'a newer attempt of this shard has moved its cursor on' });
      const move = { from: cursor, to: to ?? page.objects.at(-1)?.key ?? from, listed: page.objects.length, last };
      // A quiet page (most of a quiet resync's) commits in one statement, cursor and count with it.
      const quiet = await quietPages.commit(input, shard.pass, { from, to }, matched, unmatched, catalog.shardCursorMove(sql, input.jobId, input.shard, move));
      if (quiet === 'superseded') throw superseded();
      if (quiet === 'changed')
        await sql.begin(async (tx) => {
          if (!(await catalog.advanceShardCursor(tx, input.jobId, input.shard, move))) throw superseded();
          // Only this shard's range is marked: the ranges of a job's shards partition the keys, so the sweep after the last shard sees every mark once.
          // Marks first: shards' pages take the job row (countOwed, countListed) last, so they wait for one another only briefly.
          await catalog.markMissing(
            tx,
            input.sourceId,
            shard.pass,
            from,
            to,
            [...matched, ...unmatched].map((o) => o.key),
          );
          await catalog.oweListed(tx, input, shard.pass, matched, reconcile.onUpdate, source.maxObjectsPerRun, { after: from, upTo: to });
          await catalog.countListed(tx, input.jobId, page.objects.length);
        });
      recorded.listed(input.sourceId, page.objects.length);
      cursor = to ?? page.objects.at(-1)?.key ?? from;
      listed += page.objects.length;
      finished = last;
      actx.heartbeat({ shard: input.shard, cursor, listed });
      await listing!.committed(page.nextAfterKey);
      if (!finished && actx.cancellationSignal.aborted) throw actx.cancellationSignal.reason ?? new Error('scan cancelled');
    }
    return { listed };
  }

  /**
   * After every shard listed its range in this job: the delete limit, then
   * the sweep of what the job's pass marked missing. Refuses to sweep an
   * incomplete scan, so a job whose shards did not all finish deletes nothing.
   * Says whether objects are still owed to the job.
   */
  async function sweepScan(input: { jobId: string; sourceId: string; fullSync: boolean }): Promise<{ deleted: number; owes: boolean }> {
    const shards = await catalog.readShards(sql, input.jobId);
    const open = shards.filter((s) => !s.finished).map((s) => s.shard);
    if (shards.length === 0 || open.length > 0)
      throw ApplicationFailure.create({
        type: FAILURE.scanIncomplete,
        message: `the scan is incomplete (shards ${open.join(', ')} still listing): nothing swept`,
        nonRetryable: true,
      });
    const shard = await catalog.readShard(sql, input.jobId, 0);
    const ctx = await loadSource(deps, input.sourceId);
    const reconcile = reconcileWithDefaults(ctx.source.reconcile);
    const listed = shards.reduce((n, s) => n + s.listed, 0);
    if (reconcile.onDelete) await steps.checkDeleteLimit(input, shard!.pass, reconcile);
    const deleted = await steps.sweep(ctx, input, { pass: shard!.pass, afterKey: null, listed }, reconcile.onDelete);
    await catalog.finishScan(sql, input.jobId);
    Context.current().log.info('sharded scan complete', { sourceId: input.sourceId, jobId: input.jobId, shards: shards.length, listed, deleted });
    return { deleted, owes: await catalog.owesObjects(sql, input.jobId) };
  }

  return {
    /**
     * How the job's scan splits: the source's `shards` setting, or the
     * automatic count (domain/shards.ts autoShardCount); the last complete
     * scan's ranges while they stay balanced (keptSplit), else cut at keys
     * sampled from the catalog when it holds the source's keys, else where the
     * kind says top-level groups begin. One shard means the single scan
     * (scanSource). Idempotent: a retry returns the shards the first made.
     * Sampling reads the source's catalogued keys in order: seconds for a
     * million, minutes for a hundred million (a long bookkeeping step), which
     * is why a balanced split is kept.
     */
    async planScan(input: { jobId: string; sourceId: string }): Promise<{ shards: number }> {
      const actx = Context.current();
      const made = await catalog.readShards(sql, input.jobId);
      if (made.length > 0) return { shards: made.length };
      const { source } = await findSourceRow(deps, input.sourceId);
      const connection = kindedConnection(source.connection);
      const last = await catalog.lastScan(sql, input.sourceId);
      const count = source.shards ?? autoShardCount(last.listed);
      if (count < 2) return { shards: 1 };
      if (SOURCE_READERS[connection.kind].sharding.split === 'one') return { shards: 1 };
      const split = async (): Promise<{ ranges: ShardRange[]; cut: 'kept' | 'sampled' | 'groups' }> => {
        const kept = keptSplit(last.shards, count);
        if (kept) return { ranges: kept, cut: 'kept' };
        const sampled = await catalog.sampleCuts(sql, input.sourceId, count);
        if (sampled.length === count - 1) return { ranges: rangesFromCuts(sampled), cut: 'sampled' };
        return { ranges: rangesFromCuts(cutsAtGroups(await groupStarts(deps, source, connection, actx), count)), cut: 'groups' };
      };
      const { ranges, cut } = await split();
      if (ranges.length < 2) return { shards: 1 };
      const { shards } = await catalog.planShards(deps.db.$client, input.jobId, input.sourceId, ranges);
      actx.log.info('scan split into shards', { sourceId: input.sourceId, jobId: input.jobId, shards: shards.length, cut });
      return { shards: shards.length };
    },

    /**
     * Lists one shard's key range page by page, each page's diff committed with
     * the shard's cursor. Asked to (endJob), the first shard to find every
     * shard finished sweeps, within this activity, and if nothing is owed ends
     * the job: two activities and their workflow tasks fewer at the end of
     * every scan. A retry of that shard lists nothing (its range is done),
     * sweeps what is left (nothing, if the sweep had finished) and answers the
     * job's end, finishJob keeping the first.
     */
    async scanShard(input: ShardScanInput): Promise<{ listed: number; swept?: ShardSweep }> {
      const actx = Context.current();
      const seen: ScanProgress = { answered: false, sourceDown: false };
      const { listed } = await withOutagePatience(input, seen, () => scanShardOnce(input, seen));
      // A cancelled run's shard sweeps nothing (nor does one whose job has ended: claimSweep).
      if (!input.endJob || actx.cancellationSignal.aborted) return { listed };
      // Counting and sweeping a large source's marks can outlast the heartbeat timeout between the sweep's own beats.
      const beat = setInterval(() => actx.heartbeat(), 5_000);
      try {
        // Postgres going down here is waited for, as while listing.
        return await withOutagePatience(input, seen, async () => {
          if (!(await catalog.claimSweep(sql, input.jobId, input.shard))) return { listed };
          const swept = await sweepScan(input);
          if (swept.owes) return { listed, swept };
          return { listed, swept: { ...swept, ended: await catalog.finishJob(deps.db, { jobId: input.jobId, sourceId: input.sourceId, failed: false }) } };
        });
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * The sweep (sweepScan) as an activity of its own, after every shard: runs
     * whose shards were not asked to end the job. Says whether objects are
     * still owed to it (the run plans no more if none; results recorded before
     * it was asked say neither).
     */
    async sweepShardedScan(input: { jobId: string; sourceId: string; fullSync: boolean }): Promise<ShardSweep> {
      return sweepScan(input);
    },

    /**
     * A sharded job's next batches, per shard: owed keys in the shard's range
     * after where its dispatch stands, up to the shard's committed cursor while
     * it lists (whole batches only, unless `partial`) or to its end once it has finished.
     * Planning per range, not to one job-wide cursor, because shards advance
     * concurrently: a key at or below a shard's cursor is final (its page's
     * diff committed with the cursor), while one above it may still be owed
     * by a page not yet listed — and the lowest cursor of all shards would
     * hold every other shard's copies back until the first shard finished.
     * Batch ranges stay inside one shard's range, so no two overlap.
     */
    async planShardBatches(input: {
      jobId: string;
      batchSize: number;
      maxBatches: number;
      shards: { shard: number; afterKey: string | null }[];
      /** As planBatches takes it: a listing shard's owed keys short of a whole batch go out too. */
      partial?: boolean;
    }): Promise<{ shard: number; from: string | null; ends: string[] }[]> {
      const rows = await catalog.readShards(sql, input.jobId);
      const out: { shard: number; from: string | null; ends: string[] }[] = [];
      for (const s of input.shards) {
        const row = rows.find((r) => r.shard === s.shard);
        if (!row) continue;
        const from = s.afterKey ?? row.after;
        if (!row.finished && row.cursor === null) {
          out.push({ shard: s.shard, from, ends: [] });
          continue;
        }
        const bound = row.finished ? row.upTo : row.cursor;
        const keys = await catalog.owedKeys(sql, input.jobId, from, bound, input.batchSize * input.maxBatches);
        const ends: string[] = [];
        for (let i = input.batchSize - 1; i < keys.length; i += input.batchSize) ends.push(keys[i]!);
        if (keys.length % input.batchSize !== 0 && (row.finished || input.partial)) ends.push(keys.at(-1)!);
        out.push({ shard: s.shard, from, ends });
      }
      return out;
    },
  };
}
