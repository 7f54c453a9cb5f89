/**
 * The source controller's decisions, apart from its I/O: how requests queue
 * and merge, what the schedule says, how a run's outcome counts towards
 * suspension, and what the controller reports. No SDK calls, no clock, no
 * randomness (callers pass `now` and new job ids), so it is sandbox-safe and
 * unit-tested on its own. Functions that change the state change it in place:
 * the workflow's handlers hold references to queued runs.
 */
import { CancelledFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import type {
  ControllerPhase,
  ControllerState,
  ControllerStatus,
  DiscoverRequest,
  IngestRequest,
  QueuedRun,
  SyncRunResult,
  TriggerRequest,
} from '../../domain/messages/workflows/v1.js';
import type { ControllerSnapshot, SourceSettings } from '../../domain/messages/controller-state/v1.js';
import { isPushed } from '../../domain/kinds.js';
import { JOB_STATUS, SOURCE_STATUS, type SourceStatus } from '../../domain/statuses.js';

/** A request for a run, before it is queued. */
export type RunRequest = Omit<QueuedRun, 'jobId' | 'created'>;

/** The settings the schedule and the failure count read. */
export type ScheduleSettings = Pick<SourceSettings, 'kind' | 'syncMode' | 'syncIntervalSeconds'>;

export const FAILED = JOB_STATUS.failed;
export const CANCELED = JOB_STATUS.canceled;

export const initialControllerState = (): ControllerState => ({
  paused: false,
  pauseReason: null,
  pausedBy: null,
  suspended: false,
  completed: false,
  consecutiveFailures: 0,
  runs: 0,
  lastSyncAt: null,
  nextSyncAt: null,
  queue: [],
});

// ---- requests ---------------------------------------------------------------

export const triggerRequest = (req: TriggerRequest | undefined): RunRequest => ({
  kind: 'discovery',
  trigger: 'api',
  fullSync: req?.fullSync ?? false,
  retryFailed: req?.retryFailed ?? false,
  dryRun: false,
  sourceObjectId: null,
});

export const objectsArrivedRequest = (): RunRequest => ({
  kind: 'ingestion',
  trigger: 'direct_put',
  fullSync: false,
  retryFailed: false,
  dryRun: false,
  sourceObjectId: null,
});

/** Change notifications arrived (S3 events, a watcher): a targeted run over the keys they name. */
export const objectsChangedRequest = (): RunRequest => ({
  kind: 'ingestion',
  trigger: 'event',
  fullSync: false,
  retryFailed: false,
  dryRun: false,
  sourceObjectId: null,
  events: true,
});

export const scheduledRequest = (): RunRequest => ({
  kind: 'discovery',
  trigger: 'schedule',
  fullSync: false,
  retryFailed: false,
  dryRun: false,
  sourceObjectId: null,
});

export const discoverRequest = (req: DiscoverRequest): RunRequest => ({
  kind: 'discovery',
  trigger: 'api',
  fullSync: req.fullSync ?? false,
  retryFailed: false,
  dryRun: req.dryRun ?? false,
  sourceObjectId: null,
});

/** A rule's re-run ignores retryFailed and the object: it re-processes what the rule selects. */
export const ingestRequest = (req: IngestRequest): RunRequest =>
  req.ruleId
    ? { kind: 'ingestion', trigger: 'api', fullSync: false, retryFailed: false, dryRun: false, sourceObjectId: null, ruleId: req.ruleId }
    : {
        kind: 'ingestion',
        trigger: 'api',
        fullSync: false,
        retryFailed: req.retryFailed ?? false,
        dryRun: false,
        sourceObjectId: req.sourceObjectId ?? null,
      };

/**
 * Runs share a queue slot when kind, dry-run-ness, rule and events agree; the
 * trigger does not count. Event runs keep a slot of their own: however many
 * notifications arrive during a run, they make one follow-up.
 */
const sameSlot = (a: RunRequest, b: RunRequest): boolean =>
  a.kind === b.kind && a.dryRun === b.dryRun && (a.ruleId ?? null) === (b.ruleId ?? null) && (a.events ?? false) === (b.events ?? false);

/**
 * Queues a run, or merges into the queued one of the same slot: one follow-up,
 * however many triggers. A merged run is full if any request was, retries
 * failures if any request did, and narrows to one object only while every
 * request names the same one.
 */
export function enqueue(queue: QueuedRun[], req: RunRequest, newJobId: () => string): { run: QueuedRun; fresh: boolean } {
  const existing = queue.find((q) => sameSlot(q, req));
  if (existing) {
    existing.fullSync ||= req.fullSync;
    existing.retryFailed ||= req.retryFailed;
    if (existing.sourceObjectId !== req.sourceObjectId) existing.sourceObjectId = null;
    return { run: existing, fresh: false };
  }
  const run: QueuedRun = { ...req, jobId: newJobId(), created: false };
  queue.push(run);
  return { run, fresh: true };
}

/** The head of the queue may start: its job row exists and nothing holds the source. */
export const runnable = (state: ControllerState): boolean => !held(state) && state.queue.length > 0 && state.queue[0]!.created;

/** Paused by an operator or suspended after failures: nothing starts. */
export const held = (state: Pick<ControllerState, 'paused' | 'suspended'>): boolean => state.paused || state.suspended;

/** The answer to a discover request, once its job row exists. */
export function discoverMessage(run: Pick<QueuedRun, 'dryRun'>, currentJobId: string | null, state: Pick<ControllerState, 'paused' | 'suspended'>): string {
  const what = run.dryRun ? 'Dry-run discovery' : 'Discovery';
  if (currentJobId) return `${what} queued after job ${currentJobId}`;
  if (held(state)) return `${what} queued until the source is resumed`;
  return run.dryRun ? 'Dry-run discovery scan started' : 'Discovery scan started';
}

// ---- pause, resume ----------------------------------------------------------

/**
 * Pauses or resumes; resuming also lifts a suspension and forgets the failures
 * that caused it. `by` (the asking token's subject) follows the reason: both
 * say who asked for the pause in force, and why.
 */
export function applyPause(state: ControllerState, paused: boolean, reason: string | null, by: string | null = null): void {
  state.paused = paused;
  state.pauseReason = paused ? reason : null;
  state.pausedBy = paused ? by : null;
  if (!paused && state.suspended) {
    state.suspended = false;
    state.consecutiveFailures = 0;
  }
}

// ---- the schedule -----------------------------------------------------------

/**
 * COMPLETED belongs to initial_only: a source switched to continuous after
 * its initial sync completed polls again, so it must show ACTIVE again (the
 * caller clears `completed`). Switched back, it completes after its next
 * discovery.
 */
export const completedButContinuous = (state: Pick<ControllerState, 'completed'>, settings: Pick<ScheduleSettings, 'syncMode'>): boolean =>
  state.completed && settings.syncMode === 'continuous';

/** Push-only sources have nothing to poll; an initial-only source stops polling once its first discovery completes. */
export const scheduled = (settings: ScheduleSettings, completed: boolean): boolean =>
  !isPushed(settings.kind) && (settings.syncMode === 'continuous' || !completed);

/**
 * When the next poll is due: the time already set, else one interval after
 * the last sync (or after `now`, before the first); null when unscheduled.
 */
export function nextSyncAt(settings: ScheduleSettings, state: Pick<ControllerState, 'completed' | 'nextSyncAt' | 'lastSyncAt'>, now: number): number | null {
  if (!scheduled(settings, state.completed)) return null;
  return state.nextSyncAt ?? (state.lastSyncAt ?? now) + settings.syncIntervalSeconds * 1000;
}

/** How long to wait for the schedule; undefined waits for a request alone (unscheduled, paused or suspended). */
export const scheduleWaitMs = (state: ControllerState, now: number): number | undefined =>
  state.nextSyncAt === null || held(state) ? undefined : Math.max(0, state.nextSyncAt - now);

// ---- a run's outcome --------------------------------------------------------

/**
 * Why a job's workflow closed without ending its job, from what its
 * `executeChild` rejected with; a cancelled one ends its job as canceled.
 */
export function childEnd(err: unknown): { reason: string; canceled: boolean } {
  const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
  if (cause instanceof TerminatedFailure) return { reason: 'job workflow terminated before it finished', canceled: false };
  if (cause instanceof TimeoutFailure) return { reason: `job workflow timed out (${cause.timeoutType})`, canceled: false };
  if (cause instanceof CancelledFailure) return { reason: 'job workflow cancelled', canceled: true };
  let e: unknown = cause;
  // Failures wrap the real cause; the innermost message is the useful one.
  while (e instanceof Error && e.cause) e = e.cause;
  return { reason: `job workflow failed: ${e instanceof Error ? e.message : String(e)}`, canceled: false };
}

/** What a run whose child workflow itself failed counts as (controllers from before the child's end finished its job). */
export const failedRun = (state: Pick<ControllerState, 'consecutiveFailures'>): SyncRunResult => ({
  status: FAILED,
  consecutiveFailures: state.consecutiveFailures + 1,
});

/**
 * Folds a finished run into the state: a failure counts (the run reports the
 * count, which domain/failure-budget.ts keeps from growing when the run made
 * progress) and suspends the source at the limit; a success resets the count and
 * completes an initial-only source after its first real discovery; a
 * cancellation changes neither. Then the schedule restarts from `now`.
 * Returns whether this run suspended the source.
 */
export function settleRun(
  state: ControllerState,
  run: Pick<QueuedRun, 'kind' | 'dryRun' | 'events'>,
  result: SyncRunResult,
  settings: ScheduleSettings & Pick<SourceSettings, 'suspendAfterFailures'>,
  now: number,
): boolean {
  state.runs++;
  let suspended = false;
  if (result.status === FAILED) {
    state.consecutiveFailures = result.consecutiveFailures;
    if (state.consecutiveFailures >= settings.suspendAfterFailures) {
      state.suspended = true;
      suspended = true;
    }
  }
  // An event run looked only at the keys notifications named: it reconciles nothing, so the scheduled scan
  // (which catches lost events and sweeps deletes) keeps its time, and its success says nothing of the
  // listing's health. Event runs are new, so no recorded history settles one: no patch is needed.
  if (run.events) return suspended;
  state.lastSyncAt = now;
  if (result.status !== FAILED && result.status !== CANCELED) {
    state.consecutiveFailures = 0;
    if (settings.syncMode === 'initial_only' && run.kind === 'discovery' && !run.dryRun) state.completed = true;
  }
  state.nextSyncAt = null;
  state.nextSyncAt = nextSyncAt(settings, state, now);
  return suspended;
}

// ---- idle polls --------------------------------------------------------------

/**
 * Idle polls one controller run takes before it continues as new on its own:
 * about 11 history events each, so a quiet source's run stays near 1,100
 * events even on a server that never suggests continuing as new. Changing it
 * moves a command (continue-as-new) in running histories: that needs a patch.
 */
export const IDLE_POLLS_PER_RUN = 100;

/**
 * A due poll may take the cheap path (one activity that lists, diffs and, if
 * nothing is owed, records the poll) unless a discovery is already queued:
 * then the poll merges into it as it always did, and that run's scan lists.
 */
export const pollsCheaply = (state: Pick<ControllerState, 'queue'>): boolean => !state.queue.some((q) => sameSlot(q, scheduledRequest()));

/**
 * Folds a scheduled poll that found nothing owed into the state: a successful
 * discovery run (the failure count resets, an initial_only source completes,
 * the schedule restarts from `at`, when the poll was recorded). Returns
 * whether the source's status changed, which the poll did not write.
 */
export function settleIdlePoll(state: ControllerState, settings: ScheduleSettings & Pick<SourceSettings, 'suspendAfterFailures'>, at: number): boolean {
  const before = sourceStatus(state);
  settleRun(state, scheduledRequest(), { status: JOB_STATUS.succeeded, consecutiveFailures: 0 }, settings, at);
  return sourceStatus(state) !== before;
}

/** After an idle poll: continue as new when Temporal suggests it, or once this run has taken IDLE_POLLS_PER_RUN polls. */
export const continueAfterIdlePoll = (pollsThisRun: number, suggested: boolean): boolean => suggested || pollsThisRun >= IDLE_POLLS_PER_RUN;

// ---- what the controller reports --------------------------------------------

export function phase(state: ControllerState, currentJobId: string | null, stopping: boolean): ControllerPhase {
  if (stopping) return 'stopping';
  if (currentJobId) return 'running';
  if (state.suspended) return 'suspended';
  if (state.paused) return 'paused';
  if (state.completed) return 'completed';
  return 'idle';
}

/** The source's status as the API shows it. */
export function sourceStatus(state: ControllerState): SourceStatus {
  if (state.suspended) return SOURCE_STATUS.suspended;
  if (state.paused) return SOURCE_STATUS.paused;
  if (state.completed) return SOURCE_STATUS.completed;
  return SOURCE_STATUS.active;
}

/** What is mirrored into the database; `extra` carries the failure count and error when they changed. */
export const snapshot = (state: ControllerState, extra: Pick<ControllerSnapshot, 'consecutiveFailures' | 'lastError'> = {}): ControllerSnapshot => ({
  status: sourceStatus(state),
  paused: held(state),
  pauseReason: state.pauseReason,
  // Unknown (undefined) for a pause carried over from before it was recorded; nobody's once nothing holds the source.
  pausedBy: held(state) ? state.pausedBy : null,
  nextSyncAt: state.nextSyncAt,
  ...extra,
});

/** The answer to the `status` query. */
export const status = (state: ControllerState, currentJobId: string | null, stopping: boolean): ControllerStatus => ({
  phase: phase(state, currentJobId, stopping),
  paused: state.paused,
  pauseReason: state.pauseReason,
  currentJobId,
  queuedJobId: state.queue[0]?.jobId ?? null,
  nextSyncAt: state.nextSyncAt,
  lastSyncAt: state.lastSyncAt,
  consecutiveFailures: state.consecutiveFailures,
  runs: state.runs,
  status: sourceStatus(state),
});
