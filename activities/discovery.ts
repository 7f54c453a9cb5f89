import { ApplicationFailure, Context } from '@temporalio/activity';
import { FAILURE } from '../domain/failures.js';
import { reconcileWithDefaults, type ReconcileSettings } from '../domain/source-config.js';
import * as catalog from '../catalog/index.js';
import type { ActivityDeps } from './deps.js';
import { removeFromLake } from './lake-removal.js';
import { loadSource, type SourceContext } from './source-context.js';
import { SOURCE_READERS, errorCode } from './storage/source-readers.js';
import type { SourceKind } from '../domain/kinds.js';
import type { ListedObject, ListedPage } from './storage/types.js';
import { pageFilter, type FilteredPage } from './page-filter.js';
import { QuietPages } from './quiet-pages.js';
import { PagedListing } from './storage/prefetch.js';
import { recorded } from '../metrics/registry.js';
import { destinationFailure } from './net/destination-failure.js';
import { serverDown } from './net/outage.js';
import { postgresUnreachable } from '../domain/unreachable.js';
import { storedErrorText } from '../domain/error-text.js';
import { readSourceSettings } from './controller-state.js';
import type { PollInput, PollResult } from '../domain/messages/controller-state/v1.js';
import { shardedScanActivities } from './sharded-scan.js';
import type { SyncRunResult } from '../domain/messages/workflows/v1.js';

export interface ScanInput {
  jobId: string;
  sourceId: string;
  fullSync: boolean;
  dryRun?: boolean;
  /** Once the scan has ended owing its job nothing, it finishes the job itself (workflows/sync-run.ts, SCAN_ENDS_JOB). */
  endJob?: boolean;
}

export interface ScanResult {
  listed: number;
  discovered: number;
  deleted: number;
  resumedFrom: string | null;
  /** Whether the scan ended with objects owed to its job (absent from results recorded before it was asked). */
  owes?: boolean;
  /** The job's end, when the scan ended it (asked with endJob, and nothing was owed). */
  ended?: SyncRunResult;
}

/** What a scan heartbeats: enough to resume exactly where it stopped. */
export interface ScanCheckpoint {
  pass: number;
  afterKey: string | null;
  listed: number;
}

export function discoveryActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  /**
   * Objects outside the filters are remembered as `filtered`. An ingested one
   * that drifted out is removed from the lake first when onFilterDrift is on —
   * lake first, so a crash in between only repeats an idempotent delete.
   */
  async function recordUnmatched(ctx: SourceContext, input: ScanInput, pass: number, page: ListedObject[], onFilterDrift: boolean): Promise<void> {
    if (page.length === 0) return;
    if (onFilterDrift) await removeFromLake(deps, ctx.bucketName, await catalog.driftedLakeKeys(sql, input.sourceId, page));
    await catalog.recordFiltered(sql, input, pass, page, onFilterDrift);
  }

  /** rclone's --max-delete: refuse a sweep that would remove more than allowed, before removing anything. */
  async function checkDeleteLimit(input: ScanInput, pass: number, reconcile: ReconcileSettings): Promise<void> {
    if (reconcile.maxDeletes === undefined) return;
    const { gone, total } = await catalog.countMissing(sql, input.sourceId, pass);
    const limit = reconcile.maxDeletes;
    const allowed = typeof limit === 'number' ? limit : Math.floor((total * Number.parseFloat(limit)) / 100);
    if (gone > allowed) {
      throw ApplicationFailure.create({
        type: FAILURE.deleteLimitExceeded,
        nonRetryable: true,
        message: `refusing to delete ${gone} of ${total} objects: more than reconcile.maxDeletes=${JSON.stringify(limit)} (${allowed}); nothing was deleted`,
      });
    }
  }

  /** Sweep: after a complete listing, what this pass marked missing is gone; onDelete removes it from the lake first. */
  async function sweep(ctx: SourceContext, input: ScanInput, cp: ScanCheckpoint, onDelete: boolean): Promise<number> {
    const pass = cp.pass;
    let deleted = 0;
    for (;;) {
      const gone = await catalog.nextMissing(sql, input.sourceId, pass);
      if (gone.length === 0) break;
      if (onDelete)
        await removeFromLake(
          deps,
          ctx.bucketName,
          gone.filter((g) => g.stored).map((g) => g.lakeKey!),
        );
      deleted += await catalog.sweepDeleted(
        sql,
        input,
        gone.map((g) => g.id),
        onDelete,
      );
      Context.current().heartbeat(cp);
    }
    await catalog.closeScanPass(sql, input.sourceId, pass);
    return deleted;
  }

  /**
   * Where a (re)started scan begins: the freshest of the heartbeat details
   * (throttled by the SDK, so possibly behind) and the checkpoint written to
   * the job with every page.
   */
  async function resumePoint(jobId: string, heartbeat: ScanCheckpoint | undefined, nextPass: () => Promise<number>): Promise<ScanCheckpoint> {
    const stored = await catalog.readScanCheckpoint(sql, jobId);
    const candidates = [stored, heartbeat].filter((c): c is ScanCheckpoint => c !== undefined);
    if (candidates.length === 0) return { pass: await nextPass(), afterKey: null, listed: 0 };
    return candidates.reduce((a, b) => (b.listed > a.listed ? b : a));
  }

  /**
   * A listed page diffed against the checkpoint without writing (a dry run's or
   * a poll's look): how many of its keys are new, changed, gone or drifted.
   */
  function previewListed(
    ref: catalog.ScanRef,
    page: ListedPage,
    filtered: FilteredPage,
    from: string | null,
    reconcile: ReturnType<typeof reconcileWithDefaults>,
  ) {
    return catalog.previewPage(
      sql,
      ref,
      filtered.matched,
      filtered.unmatched,
      from,
      // The page's range ends where its listing stopped, as markMissing's does: a page of only S3 folder markers
      // lists no object but moves the cursor, and a range to the end would count everything after it gone.
      page.nextAfterKey,
      reconcile.onUpdate,
      reconcile.onFilterDrift,
    );
  }

  /**
   * A scheduled poll's read-only look: lists the source page by page and diffs
   * each page as a dry run does, stopping at the first sign of work (new,
   * changed, deleted or drifted objects, objects still owed, processing left
   * owed). Writes nothing, so a retry simply looks again.
   */
  async function probe(input: PollInput): Promise<{ owed: string | null; listed: number; pages: number }> {
    const actx = Context.current();
    if (await catalog.owesProcessing(sql, input.sourceId)) return { owed: 'processing left owed by an earlier job', listed: 0, pages: 0 };
    const { source, reader } = await loadSource(deps, input.sourceId);
    const filter = pageFilter(source.filters, reader);
    const reconcile = reconcileWithDefaults(source.reconcile);
    let afterKey: string | null = null;
    let listed = 0;
    let pages = 0;
    for (;;) {
      // Heartbeats reach the server (and are billed) only when the listing takes more than one page.
      if (pages > 0) actx.heartbeat({ listed });
      const page = await reader.listPage(afterKey, deps.listPageSize);
      pages++;
      listed += page.objects.length;
      recorded.listed(input.sourceId, page.objects.length);
      const p = await previewListed({ jobId: input.jobId, sourceId: input.sourceId, fullSync: false }, page, await filter(page.objects), afterKey, reconcile);
      if (p.fresh + p.changed + p.gone + p.drifted > 0)
        return { owed: `${p.fresh} new, ${p.changed} changed or owed, ${p.gone} deleted, ${p.drifted} drifted out of the filters`, listed, pages };
      if (page.nextAfterKey === null) return { owed: null, listed, pages };
      afterKey = page.nextAfterKey;
      if (actx.cancellationSignal.aborted) throw actx.cancellationSignal.reason ?? new Error('poll cancelled');
    }
  }

  /**
   * One pass at the listing, from where the job's checkpoint says; `seen`
   * tells the caller whether the source answered and where the scan stands.
   */
  async function scanOnce(input: ScanInput, seen: ScanProgress): Promise<ScanResult> {
    const actx = Context.current();
    const ctx = await loadSource(deps, input.sourceId);
    const { source, reader } = ctx;
    const filter = pageFilter(source.filters, reader);
    const reconcile = reconcileWithDefaults(source.reconcile);
    const cp = await resumePoint(
      input.jobId,
      (seen.checkpoint as ScanCheckpoint | undefined) ?? (actx.info.heartbeatDetails as ScanCheckpoint | undefined),
      () => catalog.nextScanPass(sql, input.sourceId),
    );
    seen.checkpoint = cp;
    // Where this attempt began, even when it went on after an outage.
    const resumedFrom = seen.resumedFrom === undefined ? (seen.resumedFrom = cp.afterKey) : seen.resumedFrom;
    const preview = { fresh: 0, changed: 0, gone: 0, drifted: 0 };
    /** A listing or a HEAD the source refused or could not answer: an outage is waited for, a permanent refusal fails the run. */
    const sourceFailed = (what: string) => (err: unknown) => {
      seen.sourceDown = serverDown(err);
      throw (
        destinationFailure(err, deps.egress, (detail) => actx.log.warn(`source ${what} failed`, { sourceId: input.sourceId, jobId: input.jobId, ...detail })) ??
        asPermanent(ctx.kind, err)
      );
    };
    const listing = new PagedListing(reader, deps.listPageSize, deps.tenants, actx.info.priority?.fairnessKey, cp.afterKey);
    const quietPages = new QuietPages(sql);
    for (;;) {
      const from = cp.afterKey;
      const page = await listing.take().catch(sourceFailed('listing'));
      seen.answered = true;
      // Metadata filters HEAD the objects: the source's answers, like its listing's.
      const filtered = await filter(page.objects).catch(sourceFailed('HEAD'));
      const { matched, unmatched } = filtered;
      if (input.dryRun) {
        const p = await previewListed(input, page, filtered, from, reconcile);
        preview.fresh += p.fresh;
        preview.changed += p.changed;
        preview.gone += p.gone;
        preview.drifted += p.drifted;
      } else {
        await recordUnmatched(ctx, input, cp.pass, unmatched, reconcile.onFilterDrift);
      }
      const listed = cp.listed + page.objects.length;
      const afterKey = page.nextAfterKey ?? page.objects.at(-1)?.key ?? cp.afterKey;
      const superseded = () => ApplicationFailure.create({ type: FAILURE.scanSuperseded, message: 'a newer attempt of this scan has moved its cursor on' });
      const move = { pass: cp.pass, from, to: afterKey, listed };
      // A quiet page (most of a quiet resync's) commits in one statement, its cursor with it.
      const quiet = input.dryRun
        ? 'changed'
        : await quietPages.commit(input, cp.pass, { from, to: page.nextAfterKey }, matched, unmatched, catalog.scanCursorMove(sql, input.jobId, move));
      if (quiet === 'superseded') throw superseded();
      // Else the page's diff, marks and the cursor commit together: ingestion may take every owed key up to
      // scan_cursor while the scan goes on, and a page re-listed after a crash finds nothing half-done.
      if (quiet === 'changed')
        await sql.begin(async (tx) => {
          if (!(await catalog.advanceScanCursor(tx, input.jobId, move))) throw superseded();
          if (input.dryRun) return;
          await catalog.oweListed(tx, input, cp.pass, matched, reconcile.onUpdate, source.maxObjectsPerRun);
          await catalog.markMissing(
            tx,
            input.sourceId,
            cp.pass,
            from,
            page.nextAfterKey,
            // An object gone by the time of its HEAD is as good as unlisted: marked missing, swept as deleted.
            [...matched, ...unmatched].map((o) => o.key),
          );
        });
      recorded.listed(input.sourceId, page.objects.length);
      cp.listed = listed;
      cp.afterKey = afterKey;
      actx.heartbeat(cp);
      if (page.nextAfterKey === null) break;
      await listing.committed(page.nextAfterKey);
      if (actx.cancellationSignal.aborted) throw actx.cancellationSignal.reason ?? new Error('scan cancelled');
    }
    if (input.dryRun) {
      await catalog.recordPreview(sql, input.jobId, {
        fresh: preview.fresh,
        changed: preview.changed,
        discovered: Math.min(preview.fresh + preview.changed, source.maxObjectsPerRun),
        deleted: preview.gone,
        removed: preview.drifted + (reconcile.onDelete ? preview.gone : 0),
      });
      await catalog.finishScan(sql, input.jobId);
      return { listed: cp.listed, discovered: preview.fresh + preview.changed, deleted: preview.gone, resumedFrom };
    }
    if (reconcile.onDelete) await checkDeleteLimit(input, cp.pass, reconcile);
    const deleted = await sweep(ctx, input, cp, reconcile.onDelete);
    await catalog.finishScan(sql, input.jobId);
    const discovered = await catalog.readOwedCount(sql, input.jobId);
    actx.log.info('scan complete', { sourceId: input.sourceId, jobId: input.jobId, listed: cp.listed, discovered, deleted });
    return { listed: cp.listed, discovered, deleted, resumedFrom, owes: await catalog.owesObjects(sql, input.jobId) };
  }

  return {
    /**
     * A scheduled poll, the cheap way: one activity instead of a job workflow.
     * It lists and diffs the source; if nothing is owed it records the poll
     * (catalog.recordIdlePoll) and answers idle, else it answers work and the
     * controller runs a job, whose scan lists again and does the work. A
     * listing that fails is work too: the job fails it and counts it, as any
     * poll's did. Idempotent: a retry after the poll was recorded answers the
     * recorded time; one that finds work after all answers work.
     */
    async pollSource(input: PollInput): Promise<PollResult> {
      const actx = Context.current();
      const settings = await readSourceSettings(deps, input.sourceId);
      if (!settings) return { outcome: 'gone' };
      const startedAt = new Date();
      let look: Awaited<ReturnType<typeof probe>>;
      try {
        look = await probe(input);
      } catch (err) {
        actx.log.info('scheduled poll could not list the source: a job will', { sourceId: input.sourceId, error: storedErrorText(err) });
        return { outcome: 'work', reason: 'the listing failed' };
      }
      if (look.owed !== null) return { outcome: 'work', reason: look.owed };
      const run = actx.info.workflowExecution;
      const at = await catalog.recordIdlePoll(
        deps.db,
        { ...input, startedAt, listed: look.listed, pages: look.pages, syncIntervalSeconds: settings.syncIntervalSeconds },
        { workflowId: run?.workflowId ?? null, runId: run?.runId ?? null },
      );
      return { outcome: 'idle', at, settings };
    },

    /**
     * Lists the whole source page by page, heartbeating the cursor after each
     * page; a retry after a crash reads the heartbeat and resumes there.
     *
     * A server that goes down once the source has answered this attempt
     * (Postgres, the source, the lake) is waited for, with backoff, and the
     * scan goes on from its last committed page: the scan's retry policy gives
     * up within seconds, and an outage is not the run's failure. A source that
     * never answered fails the attempt at once, as before, unless it is
     * Postgres that is down (the checkpoint is read before the first page).
     */
    async scanSource(input: ScanInput): Promise<ScanResult> {
      const seen: ScanProgress = { answered: false, sourceDown: false };
      return withOutagePatience(input, seen, async () => {
        if (input.endJob) {
          // A retry after this scan ended its job lists nothing: a key listed now would be owed to a finished job (and an
          // attempt that passed here before the end committed finds its cursor's move refused: scanCursorUpdate).
          const ended = await catalog.endedJob(deps.db, input.jobId);
          if (ended) {
            const { status, consecutiveFailures, ...counts } = ended;
            return { ...counts, resumedFrom: null, owes: false, ended: { status, consecutiveFailures } };
          }
        }
        const scanned = await scanOnce(input, seen);
        if (!input.endJob || scanned.owes !== false) return scanned;
        return { ...scanned, ended: await catalog.finishJob(deps.db, { jobId: input.jobId, sourceId: input.sourceId, failed: false }) };
      });
    },

    ...shardedScanActivities(deps, { recordUnmatched, checkDeleteLimit, sweep }),
  };
}

/**
 * Runs one pass at a listing again while a server it needs is down: waited
 * for, with backoff, once the source has answered this attempt (or when it is
 * Postgres that is down), and only up to SCAN_OUTAGE_PATIENCE_MS.
 */
export async function withOutagePatience<T>(input: { jobId: string; dryRun?: boolean }, seen: ScanProgress, once: () => Promise<T>): Promise<T> {
  const actx = Context.current();
  const giveUpAt = Date.now() + SCAN_OUTAGE_PATIENCE_MS;
  for (let waitMs = 1000; ; waitMs = Math.min(waitMs * 2, 10_000)) {
    try {
      return await once();
    } catch (err) {
      const down = seen.sourceDown || serverDown(err);
      // Postgres down says nothing about the source, so it is waited for even before the source has answered.
      const waitable = down && (seen.answered || postgresUnreachable(err));
      if (!waitable || input.dryRun || Date.now() + waitMs > giveUpAt || actx.cancellationSignal.aborted) throw err;
      actx.log.warn('a server is down; the scan waits and goes on from its last page', { jobId: input.jobId, error: storedErrorText(err) });
      seen.sourceDown = false;
      actx.heartbeat(seen.checkpoint);
      await actx.sleep(waitMs); // rejects when the activity is cancelled (the worker shutting down)
    }
  }
}

export interface ScanProgress {
  /** The source answered a listing in this attempt: it was reachable, so an error now is an outage. */
  answered: boolean;
  /** The last listing failed because the source's server is down. */
  sourceDown: boolean;
  checkpoint?: unknown;
  resumedFrom?: string | null;
}

/** How long a scan waits out an outage within one attempt (heartbeating) before it fails the attempt. */
const SCAN_OUTAGE_PATIENCE_MS = 5 * 60_000;

/** Errors that retrying within this run cannot fix, as the source's kind tells them; the controller tries again on its next poll. */
export function asPermanent(kind: SourceKind, err: unknown): never {
  if (SOURCE_READERS[kind].permanent(err)) {
    const message = (err as { message?: string } | null)?.message;
    throw ApplicationFailure.create({ type: FAILURE.sourceUnreachable, message: `${errorCode(err)}: ${message ?? 'source unreachable'}`, nonRetryable: true });
  }
  throw err;
}
