import {
  ActivityCancellationType,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SyncRunInput, SyncRunResult } from '../domain/messages/workflows/v1.js';
import { runPausedQuery, runPauseSignal, tenantPresent } from './shared.js';

const BOOKKEEPING: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

// A discovery's start (beginDiscovery): bookkeeping, then planScan, which may list the source's top level to cut shards.
// It heartbeats while it runs, so a worker lost in it is noticed within the minute rather than at the timeout.
const BEGIN: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

// Walks every stored object of a source: minutes for millions.
const LONG_BOOKKEEPING: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

const PERMANENT = ['SourceNotFound', 'BadSourceConfig', 'SourceUnreachable', 'DeleteLimitExceeded'];

const SCAN: ActivityOptions = {
  startToCloseTimeout: '24 hours',
  // Pages heartbeat as they go; a scan lost with its worker resumes from its checkpoint within 20 s.
  heartbeatTimeout: '20 seconds',
  // A run whose listing keeps failing fails as a whole; the controller counts it.
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 4, nonRetryableErrorTypes: PERMANENT },
};

const COPY: ActivityOptions = {
  startToCloseTimeout: '6 hours',
  // Batches heartbeat every 2 s; a batch lost with its worker is retried within 20 s.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', nonRetryableErrorTypes: PERMANENT },
};

/**
 * Every activity of a run carries its organisation's fairness key, so Temporal
 * hands out one organisation's backlog in turn with the others' (README
 * "Tenant fairness"). Runs started without a key schedule as they always did.
 */
const fair = (input: SyncRunInput, options: ActivityOptions): ActivityOptions =>
  input.fairnessKey ? { ...options, priority: { fairnessKey: input.fairnessKey } } : options;

function runActivities(input: SyncRunInput) {
  const { scanSource, scanShard, ingestBatch, processBatch } = proxyActivities<Activities>(fair(input, COPY));
  return {
    bookkeeping: proxyActivities<Activities>(fair(input, BOOKKEEPING)),
    longBookkeeping: proxyActivities<Activities>(fair(input, LONG_BOOKKEEPING)),
    begin: proxyActivities<Activities>(fair(input, BEGIN)),
    scanSource,
    scanShard,
    ingestBatch,
    processBatch,
    // A targeted run HEADs the keys change notifications named (at most 20,000), heartbeating each page of them.
    applyEvents: proxyActivities<Activities>(SCAN).applyEvents,
  };
}

/**
 * A discovery's scan used to be one scanSource activity. Runs with this
 * marker first ask planScan how the scan splits: into key-range shards (one
 * scanShard activity each, listing concurrently on any workers, each with its
 * own checkpoint, then one sweepShardedScan once all have finished), or into
 * one, which is the scanSource of before. Dispatch then plans per shard range.
 * Runs without the marker replay on the single-scan path; once no sync run
 * started before the deploy is open (a paused one can wait for ever: list
 * them first), this becomes `deprecatePatch`.
 */
export const SHARDED_SCAN = 'sync-run-sharded-scan';

/**
 * A discovery used to start with three activities in turn: startJob,
 * adoptOwedProcessing, planScan. Runs with this marker ask beginDiscovery,
 * which does all three in one (activities/begin-discovery.ts): two round trips
 * fewer, most of an unchanged resync's fixed cost. Runs without it replay the
 * three. Becomes `deprecatePatch` as SHARDED_SCAN does.
 */
export const ONE_STEP_START = 'sync-run-one-step-start';

/**
 * Once Temporal suggested continuing as new, a run used to stop dispatching
 * (and stop looking for newly listed keys) until its scan had finished, since
 * it can only continue as new between scans: a long scan's copies stalled
 * mid-scan. Runs with this marker go on planning and copying while the scan
 * lists, up to HISTORY_BOUND, then wait for the scan as before. Runs without
 * it replay as they were; becomes `deprecatePatch` as SHARDED_SCAN does.
 */
export const COPY_THROUGH_SCAN = 'sync-run-copy-through-scan';

/**
 * While a scan lists, only whole batches used to go out, so a resync whose few
 * changes spread over the whole listing copied nothing until its scan ended.
 * Runs with this marker, when nothing is in flight and the last look found no
 * whole batch, take what is owed up to the scan's cursor as a batch short of
 * the size. Runs without it replay as they were; becomes `deprecatePatch` as
 * SHARDED_SCAN does.
 */
export const PARTIAL_WHEN_IDLE = 'sync-run-partial-batch-when-idle';

/**
 * A discovery used to plan once more after its scan ended, an activity and a
 * workflow task that find nothing on a quiet resync. The scan's last activity
 * (scanSource, sweepShardedScan) now says whether anything is still owed to
 * the job; runs with this marker skip the last plan when nothing is. Runs
 * without it replay as they were (their results carry no answer, so they
 * never reach the marker); becomes `deprecatePatch` as SHARDED_SCAN does.
 */
export const NO_PLAN_WHEN_NOTHING_OWED = 'sync-run-no-plan-when-nothing-owed';

/**
 * A discovery used to end with a sweepShardedScan activity after its shards
 * (a sharded scan) and a finishJob activity, each with a workflow task. Runs
 * with this marker ask the scan to end the job: the first shard to find
 * every shard finished sweeps (catalog claimSweep), and the scan's last
 * activity (that shard, or scanSource) finishes the job when nothing is owed
 * to it, answering the job's end, which the run returns once its batches in
 * flight are done. Runs without it ask neither and replay as they were;
 * becomes `deprecatePatch` as SHARDED_SCAN does.
 */
export const SCAN_ENDS_JOB = 'sync-run-scan-ends-job';

/** How long a history may grow past the suggestion while a scan still lists: well inside Temporal's 51,200 events and 50 MB. */
const HISTORY_BOUND = { events: 20_000, bytes: 20 * 1024 * 1024 };

const PLAN_AHEAD = 16;
/** How often dispatch looks past a running scan's cursor when it has caught up. */
const SCAN_POLL_MS = 500;
const MAX_SCAN_POLL_MS = 15_000;

/**
 * One job: discover (or pick owed objects) and dispatch them in batches with
 * bounded concurrency, copying while the scan still lists. Pausing stops new
 * batches; batches in flight finish.
 */
export async function syncRun(input: SyncRunInput): Promise<SyncRunResult> {
  // The SDK adds workflowId, runId and workflowType to every line.
  const fields = { bucket: input.bucket, sourceId: input.sourceId, jobId: input.jobId };
  const { bookkeeping, longBookkeeping, begin, scanSource, scanShard, ingestBatch, processBatch, applyEvents } = runActivities(input);
  const finished = (outcome: SyncRunResult): SyncRunResult => {
    log.info('job finished', { ...fields, status: outcome.status });
    return outcome;
  };
  tenantPresent(input.fairnessKey);
  let paused = input.paused ?? false;
  setHandler(runPauseSignal, (value) => void (paused = value));
  setHandler(runPausedQuery, () => paused);

  try {
    let afterKey: string | null;
    /** A sharded scan's dispatch cursors, one per shard (null: a single scan, dispatched with afterKey). */
    let shards: { shard: number; afterKey: string | null }[] | null = null;
    // A discovery's scan runs alongside its copies: batches go out for every key up to the scan's committed cursor.
    let scanning = false;
    let failure: unknown = null;
    let scanSettled: Promise<void> = Promise.resolve();
    /** The scan's last activity found nothing owed to the job (results recorded before it was asked say neither). */
    let owedNothing = false;
    /** The job's end, when the scan's last activity ended it (SCAN_ENDS_JOB). */
    let ended: SyncRunResult | null = null;
    if (input.resume) {
      afterKey = input.resume.afterKey;
      shards = input.resume.shards ?? null;
    } else {
      log.info('job started', { ...fields, kind: input.kind, fullSync: input.fullSync, retryFailed: input.retryFailed, dryRun: input.dryRun ?? false });
      const start = {
        jobId: input.jobId,
        sourceId: input.sourceId,
        fullSync: input.fullSync,
        retryFailed: input.retryFailed,
        sourceObjectId: input.sourceObjectId,
      };
      const oneStep = input.kind === 'discovery' && patched(ONE_STEP_START);
      const begun = oneStep ? await begin.beginDiscovery({ ...start, dryRun: input.dryRun }) : null;
      if (!oneStep) await bookkeeping.startJob(start);
      // Processing an earlier run left owed (or, retrying, that failed) is finished by this one.
      const adopt = () => bookkeeping.adoptOwedProcessing({ jobId: input.jobId, sourceId: input.sourceId, retryFailed: input.retryFailed });
      if (input.kind === 'discovery') {
        if (!input.dryRun && !begun) await adopt();
        const split = begun
          ? begun.shards
          : !input.dryRun && patched(SHARDED_SCAN)
            ? (await longBookkeeping.planScan({ jobId: input.jobId, sourceId: input.sourceId })).shards
            : 1;
        if (split > 1) {
          const all = Array.from({ length: split }, (_, shard) => ({ shard, afterKey: null }));
          shards = all;
          scanning = true;
          const endJob = patched(SCAN_ENDS_JOB);
          const shardScope = new CancellationScope();
          const listed = all.map(({ shard }) =>
            shardScope.run(() =>
              scanShard.executeWithOptions(
                {
                  ...fair(input, SCAN),
                  // A cancelled shard settles when its worker has stopped it, not when the cancel is sent.
                  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                  summary: `list key-range shard ${shard + 1} of ${split} and diff it against the etag checkpoint`,
                },
                // Absent, not false, unless asked: inputs stay as recorded histories hold them.
                [{ jobId: input.jobId, sourceId: input.sourceId, fullSync: input.fullSync, shard, ...(endJob ? { endJob } : {}) }],
              ),
            ),
          );
          // Only a complete scan sweeps: the sweep waits for every shard, and a shard that fails fails the job unswept.
          scanSettled = Promise.all(listed)
            .then(
              (results) =>
                // The shard that claimed the sweep swept (asked to, one does once every shard has finished listing).
                results.find((r) => r.swept)?.swept ??
                longBookkeeping.sweepShardedScan({ jobId: input.jobId, sourceId: input.sourceId, fullSync: input.fullSync }),
            )
            .catch(async (err: unknown) => {
              // One shard failed: the others are cancelled, and the job fails only once none of them can still
              // commit a page to it (a finished job's counters must not move, nor a next run's keys be taken back).
              shardScope.cancel();
              await Promise.allSettled(listed);
              throw err;
            })
            .then(
              (swept) => {
                scanning = false;
                owedNothing = swept.owes === false;
                ended = swept.ended ?? null;
              },
              (err) => {
                scanning = false;
                failure ??= err;
              },
            );
        } else {
          const endJob = !input.dryRun && patched(SCAN_ENDS_JOB);
          const scan = scanSource.executeWithOptions(
            { ...fair(input, SCAN), summary: `list the source and diff it against the etag checkpoint${input.fullSync ? ' (full sync)' : ''}` },
            [{ jobId: input.jobId, sourceId: input.sourceId, fullSync: input.fullSync, dryRun: input.dryRun, ...(endJob ? { endJob } : {}) }],
          );
          if (input.dryRun) {
            await scan;
            return finished(await bookkeeping.finishJob({ jobId: input.jobId, sourceId: input.sourceId, failed: false, dryRun: true }));
          }
          scanning = true;
          scanSettled = scan.then(
            (scanned) => {
              scanning = false;
              owedNothing = scanned.owes === false;
              ended = scanned.ended ?? null;
            },
            (err) => {
              scanning = false;
              failure ??= err;
            },
          );
        }
      } else if (input.ruleId) {
        await longBookkeeping.prepareRuleRun({ jobId: input.jobId, sourceId: input.sourceId, ruleId: input.ruleId });
      } else if (input.events) {
        // Only runs started with events carry the flag: recorded histories never reach this command.
        await adopt();
        await applyEvents.executeWithOptions(
          { ...fair(input, SCAN), summary: 'look at the keys change notifications named and diff them against the checkpoint' },
          [{ jobId: input.jobId, sourceId: input.sourceId }],
        );
      } else {
        await bookkeeping.prepareIngestion({
          jobId: input.jobId,
          sourceId: input.sourceId,
          retryFailed: input.retryFailed,
          sourceObjectId: input.sourceObjectId,
        });
        if (!input.sourceObjectId) await adopt();
      }
      afterKey = null;
    }

    const inFlight = new Set<Promise<unknown>>();
    let idlePollMs = SCAN_POLL_MS;
    /** The batches to dispatch next: each from where the one before it in its range ended; `dispatched` moves that range's cursor. */
    type Planned = { after: string | null; lastKey: string; dispatched: () => void };
    const chained = (from: string | null, ends: string[], moved: (lastKey: string) => void): Planned[] =>
      ends.map((lastKey, i) => ({ after: i === 0 ? from : ends[i - 1]!, lastKey, dispatched: () => moved(lastKey) }));
    const planSingle = async (wasScanning: boolean, partial: boolean): Promise<Planned[]> => {
      const ends = await bookkeeping.planBatches({
        jobId: input.jobId,
        afterKey,
        batchSize: input.batchSize,
        maxBatches: PLAN_AHEAD,
        scanning: wasScanning,
        // Absent, not false, unless asked: planning inputs stay as recorded histories hold them.
        ...(partial ? { partial } : {}),
      });
      return chained(afterKey, ends, (lastKey) => void (afterKey = lastKey));
    };
    // Shards list concurrently, so there is no one job-wide cursor: each shard's range is planned on its own, up to
    // that shard's committed cursor (keys above it may still be owed by pages not yet listed), and batches never
    // straddle two ranges (see planShardBatches).
    const planSharded = async (cursors: { shard: number; afterKey: string | null }[], partial: boolean): Promise<Planned[]> => {
      const plans = await bookkeeping.planShardBatches({
        jobId: input.jobId,
        batchSize: input.batchSize,
        maxBatches: PLAN_AHEAD,
        shards: cursors,
        ...(partial ? { partial } : {}),
      });
      return plans.flatMap(({ shard, from, ends }) => chained(from, ends, (lastKey) => void (cursors.find((c) => c.shard === shard)!.afterKey = lastKey)));
    };
    /**
     * Past the continue-as-new suggestion, whether the run goes on copying rather than waiting for its scan:
     * only while the scan lists, nothing failed and the history is inside the bound. Every condition is read
     * from the history (workflowInfo follows each workflow task's started event), and patched() comes last,
     * so replay asks for the marker at the very point the run wrote it.
     */
    const copyThroughScan = (): boolean => {
      const { historyLength, historySize } = workflowInfo();
      return scanning && failure === null && historyLength < HISTORY_BOUND.events && historySize < HISTORY_BOUND.bytes && patched(COPY_THROUGH_SCAN);
    };
    /** The last look, while the scan listed, found no whole batch. */
    let lookedIdle = false;
    for (;;) {
      if (failure !== null) throw failure;
      tenantPresent(input.fairnessKey);
      const wasScanning = scanning;
      // The scan has ended owing nothing: a last plan would find nothing. patched() last, as below.
      if (!wasScanning && owedNothing && patched(NO_PLAN_WHEN_NOTHING_OWED)) break;
      // Copy slots idle while the scan lists: what it has owed so far goes out short of a batch. patched() comes last,
      // as in copyThroughScan, so replay asks for the marker at the very point the run wrote it.
      const partial: boolean = wasScanning && lookedIdle && inFlight.size === 0 && patched(PARTIAL_WHEN_IDLE);
      const batches: Planned[] = shards === null ? await planSingle(wasScanning, partial) : await planSharded(shards, partial);
      lookedIdle = batches.length === 0;
      if (batches.length === 0) {
        if (!wasScanning) break;
        // Nothing owed past the cursor yet: look again later, less often the longer nothing comes (at most
        // every 15 s, a few events each), and not at all once the history is past the bound.
        if (workflowInfo().continueAsNewSuggested && !copyThroughScan()) await scanSettled;
        else await condition(() => !scanning || failure !== null, idlePollMs);
        idlePollMs = Math.min(idlePollMs * 2, MAX_SCAN_POLL_MS);
        continue;
      }
      // A partial batch leaves the backoff where it was: a long scan that owes a key now and then sends a small batch
      // at most as often as it would look, not every half second (each a plan, a copy and their workflow tasks).
      if (!partial) idlePollMs = SCAN_POLL_MS;
      for (const { after, lastKey, dispatched } of batches) {
        // Twice the worker's batch concurrency in flight: the next batches wait in the worker's copy slots, so no slot idles between batches.
        await condition(() => (!paused && inFlight.size < input.batchConcurrency * 2) || failure !== null);
        if (failure !== null) throw failure;
        const range = `${after === null ? '(start)' : JSON.stringify(after).slice(0, 60)} … ${JSON.stringify(lastKey).slice(0, 60)}`;
        const args = { jobId: input.jobId, sourceId: input.sourceId, afterKey: after, lastKey };
        const process = () =>
          processBatch.executeWithOptions({ ...fair(input, COPY), summary: `process batch ${range}${input.ruleId ? ` for rule ${input.ruleId}` : ''}` }, [
            { ...args, ruleId: input.ruleId ?? null },
          ]);
        // Stored objects go through their pipelines right after their batch lands.
        const batch: Promise<unknown> = input.ruleId
          ? process()
          : ingestBatch
              .executeWithOptions({ ...fair(input, COPY), summary: `copy batch ${range}` }, [args])
              .then(async (r) => (r.toProcess > 0 ? await process() : null));
        const tracked: Promise<unknown> = batch.then(
          () => inFlight.delete(tracked),
          (err) => {
            inFlight.delete(tracked);
            failure ??= err;
          },
        );
        inFlight.add(tracked);
        dispatched();
      }
      // Planning reads what is owed after the cursor, so batches in flight
      // need not finish first; history is bounded by continuing as new.
      if (workflowInfo().continueAsNewSuggested) {
        // A run continues as new only between scans: while its scan lists, it goes on copying up to the bound
        // (the next plan is an activity, so this loop always waits on something).
        if (copyThroughScan()) continue;
        if (scanning) log.info('copying waits for the scan to end before continuing as new', { ...fields, historyLength: workflowInfo().historyLength });
        await scanSettled;
        await condition(() => inFlight.size === 0);
        if (failure !== null) throw failure;
        // Ended by its scan: nothing is left for a next run (ended is only ever set in runs with SCAN_ENDS_JOB).
        if (ended !== null) return finished(ended);
        await condition(allHandlersFinished);
        log.info('continuing as new to keep the history small', { ...fields, afterKey });
        return await continueAsNew<typeof syncRun>({ ...input, paused, resume: { afterKey, ...(shards === null ? {} : { shards }) } });
      }
    }
    await scanSettled;
    await condition(() => inFlight.size === 0);
    if (failure !== null) throw failure;
    // Ended by the scan: nothing was owed, so the batches that were in flight had recorded every object they took.
    if (ended !== null) return finished(ended);
    return finished(await bookkeeping.finishJob({ jobId: input.jobId, sourceId: input.sourceId, failed: false }));
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => bookkeeping.finishJob({ jobId: input.jobId, sourceId: input.sourceId, failed: false, canceled: true }));
      log.info('job canceled', fields);
      throw err;
    }
    if (err instanceof ContinueAsNew) throw err;
    const message = describeFailure(err);
    log.warn('job failed', { ...fields, error: message });
    return finished(await bookkeeping.finishJob({ jobId: input.jobId, sourceId: input.sourceId, failed: true, error: message }));
  }
}

function describeFailure(err: unknown): string {
  let e: unknown = err;
  // Activity failures wrap the real cause; the innermost message is the useful one.
  while (e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
  if (e instanceof ApplicationFailure || e instanceof Error) return e.message;
  return String(e);
}
