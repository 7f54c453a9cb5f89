/**
 * The source controller's decisions, without Temporal: queueing and merging,
 * pause and suspension, the schedule, a run's outcome, and what is reported.
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure, CancelledFailure, ChildWorkflowFailure, RetryState, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { failuresAfterFailedRun, madeProgress } from '../../domain/failure-budget.js';
import type { ControllerState, QueuedRun } from '../../domain/messages/workflows/v1.js';
import {
  CANCELED,
  FAILED,
  applyPause,
  IDLE_POLLS_PER_RUN,
  childEnd,
  completedButContinuous,
  continueAfterIdlePoll,
  discoverMessage,
  discoverRequest,
  enqueue,
  failedRun,
  ingestRequest,
  initialControllerState,
  nextSyncAt,
  objectsArrivedRequest,
  objectsChangedRequest,
  phase,
  pollsCheaply,
  runnable,
  scheduleWaitMs,
  scheduled,
  scheduledRequest,
  settleIdlePoll,
  settleRun,
  snapshot,
  sourceStatus,
  status,
  triggerRequest,
} from '../../workflows/controller/logic.js';

const ids = () => {
  let n = 0;
  return () => `job_${++n}`;
};
const state = (over: Partial<ControllerState> = {}): ControllerState => ({ ...initialControllerState(), ...over });
const continuous = { kind: 's3' as const, syncMode: 'continuous' as const, syncIntervalSeconds: 60, suspendAfterFailures: 3 };
const initialOnly = { ...continuous, syncMode: 'initial_only' as const };
const T = 1_700_000_000_000;

describe('queueing and merging requests', () => {
  it('queues a fresh run with a new job id, not yet created', () => {
    const queue: QueuedRun[] = [];
    const { run, fresh } = enqueue(queue, triggerRequest({ fullSync: true }), ids());
    expect(fresh).toBe(true);
    expect(queue).toEqual([
      { jobId: 'job_1', kind: 'discovery', trigger: 'api', fullSync: true, retryFailed: false, dryRun: false, sourceObjectId: null, created: false },
    ]);
    expect(queue[0]).toBe(run);
  });

  it('merges requests of one slot into one run: full or retrying if any asked', () => {
    const queue: QueuedRun[] = [];
    const next = ids();
    const first = enqueue(queue, triggerRequest(undefined), next).run;
    const second = enqueue(queue, triggerRequest({ fullSync: true }), next);
    const third = enqueue(queue, triggerRequest({ retryFailed: true }), next);
    expect(second).toEqual({ run: first, fresh: false });
    expect(third.run).toBe(first);
    expect(queue).toHaveLength(1);
    expect(first).toMatchObject({ jobId: 'job_1', fullSync: true, retryFailed: true });
    // A later plain request never narrows what was asked.
    enqueue(queue, triggerRequest({}), next);
    expect(first).toMatchObject({ fullSync: true, retryFailed: true });
  });

  it('merges a scheduled poll and an API discovery into the run already waiting, keeping its trigger', () => {
    const queue: QueuedRun[] = [];
    const next = ids();
    enqueue(queue, discoverRequest({}), next);
    const { run, fresh } = enqueue(queue, scheduledRequest(), next);
    expect(fresh).toBe(false);
    expect(run.trigger).toBe('api');
  });

  it('keeps kinds, dry runs and rules in separate slots', () => {
    const queue: QueuedRun[] = [];
    const next = ids();
    enqueue(queue, discoverRequest({}), next);
    enqueue(queue, discoverRequest({ dryRun: true }), next);
    enqueue(queue, objectsArrivedRequest(), next);
    enqueue(queue, ingestRequest({ ruleId: 'r1' }), next);
    enqueue(queue, ingestRequest({ ruleId: 'r2' }), next);
    expect(queue.map((q) => [q.kind, q.dryRun, q.ruleId ?? null])).toEqual([
      ['discovery', false, null],
      ['discovery', true, null],
      ['ingestion', false, null],
      ['ingestion', false, 'r1'],
      ['ingestion', false, 'r2'],
    ]);
    // A plain ingest joins the pushed-objects run, not a rule's.
    expect(enqueue(queue, ingestRequest({}), next).run).toBe(queue[2]);
    expect(enqueue(queue, ingestRequest({ ruleId: 'r2' }), next).run).toBe(queue[4]);
  });

  it('gives change notifications a slot of their own: a burst during a run is one follow-up', () => {
    const queue: QueuedRun[] = [];
    const next = ids();
    const plain = enqueue(queue, ingestRequest({}), next).run;
    const first = enqueue(queue, objectsChangedRequest(), next);
    expect(first.fresh).toBe(true);
    expect(first.run).not.toBe(plain);
    expect(first.run).toMatchObject({ kind: 'ingestion', trigger: 'event', events: true });
    for (let i = 0; i < 2000; i++) expect(enqueue(queue, objectsChangedRequest(), next)).toEqual({ run: first.run, fresh: false });
    expect(queue).toHaveLength(2);
    // An ingest request never joins the event run: it would take objects the notifications never named.
    expect(enqueue(queue, ingestRequest({ retryFailed: true }), next).run).toBe(plain);
  });

  it('narrows to one object only while every merged request names the same one', () => {
    const queue: QueuedRun[] = [];
    const next = ids();
    const run = enqueue(queue, ingestRequest({ sourceObjectId: 'o1' }), next).run;
    enqueue(queue, ingestRequest({ sourceObjectId: 'o1' }), next);
    expect(run.sourceObjectId).toBe('o1');
    enqueue(queue, ingestRequest({ sourceObjectId: 'o2' }), next);
    expect(run.sourceObjectId).toBeNull();
    enqueue(queue, ingestRequest({ sourceObjectId: 'o2' }), next);
    expect(run.sourceObjectId).toBeNull();
  });

  it('builds each request as the controller always has', () => {
    expect(objectsArrivedRequest()).toEqual({
      kind: 'ingestion',
      trigger: 'direct_put',
      fullSync: false,
      retryFailed: false,
      dryRun: false,
      sourceObjectId: null,
    });
    expect(scheduledRequest()).toMatchObject({ kind: 'discovery', trigger: 'schedule', fullSync: false });
    expect(discoverRequest({ fullSync: true, dryRun: true })).toMatchObject({
      kind: 'discovery',
      trigger: 'api',
      fullSync: true,
      dryRun: true,
      retryFailed: false,
    });
    expect(ingestRequest({ retryFailed: true, sourceObjectId: 'o' })).toMatchObject({ retryFailed: true, sourceObjectId: 'o' });
    expect(ingestRequest({ retryFailed: true, sourceObjectId: 'o', ruleId: 'r' })).toMatchObject({ retryFailed: false, sourceObjectId: null, ruleId: 'r' });
  });

  it('starts the head of the queue only once its job exists and nothing holds the source', () => {
    const s = state();
    expect(runnable(s)).toBe(false);
    const { run } = enqueue(s.queue, triggerRequest(undefined), ids());
    expect(runnable(s)).toBe(false);
    run.created = true;
    expect(runnable(s)).toBe(true);
    expect(runnable({ ...s, paused: true })).toBe(false);
    expect(runnable({ ...s, suspended: true })).toBe(false);
  });

  it('answers a discover request with where its run stands', () => {
    const free = state();
    expect(discoverMessage({ dryRun: false }, null, free)).toBe('Discovery scan started');
    expect(discoverMessage({ dryRun: true }, null, free)).toBe('Dry-run discovery scan started');
    expect(discoverMessage({ dryRun: false }, 'job_9', free)).toBe('Discovery queued after job job_9');
    expect(discoverMessage({ dryRun: true }, 'job_9', state({ paused: true }))).toBe('Dry-run discovery queued after job job_9');
    expect(discoverMessage({ dryRun: false }, null, state({ paused: true }))).toBe('Discovery queued until the source is resumed');
    expect(discoverMessage({ dryRun: true }, null, state({ suspended: true }))).toBe('Dry-run discovery queued until the source is resumed');
  });
});

describe('pause and resume', () => {
  it('pauses with a reason and resumes without one', () => {
    const s = state();
    applyPause(s, true, 'maintenance');
    expect(s).toMatchObject({ paused: true, pauseReason: 'maintenance' });
    applyPause(s, false, 'ignored');
    expect(s).toMatchObject({ paused: false, pauseReason: null });
  });

  it('lifts a suspension and its failure count on resume, not on pause', () => {
    const s = state({ suspended: true, consecutiveFailures: 3 });
    applyPause(s, true, null);
    expect(s).toMatchObject({ suspended: true, consecutiveFailures: 3 });
    applyPause(s, false, null);
    expect(s).toMatchObject({ suspended: false, consecutiveFailures: 0, paused: false });
  });

  it('keeps who asked for the pause in force, and forgets it on resume', () => {
    const s = state();
    applyPause(s, true, 'audit', 'alice');
    expect(s).toMatchObject({ paused: true, pauseReason: 'audit', pausedBy: 'alice' });
    applyPause(s, true, null, 'bob');
    expect(s).toMatchObject({ paused: true, pauseReason: null, pausedBy: 'bob' });
    applyPause(s, false, null, 'carol');
    expect(s).toMatchObject({ paused: false, pauseReason: null, pausedBy: null });
  });

  it('keeps the failure count when resuming a source that was not suspended', () => {
    const s = state({ paused: true, consecutiveFailures: 2 });
    applyPause(s, false, null);
    expect(s.consecutiveFailures).toBe(2);
  });
});

describe('the schedule', () => {
  it('polls every source but push-only ones, and initial-only ones only until completed', () => {
    expect(scheduled(continuous, false)).toBe(true);
    expect(scheduled(continuous, true)).toBe(true);
    expect(scheduled(initialOnly, false)).toBe(true);
    expect(scheduled(initialOnly, true)).toBe(false);
    expect(scheduled({ ...continuous, kind: 'upload' as const }, false)).toBe(false);
  });

  it('keeps a due time already set, else counts one interval from the last sync, else from now', () => {
    expect(nextSyncAt(continuous, { completed: false, nextSyncAt: T + 5, lastSyncAt: T - 1000 }, T)).toBe(T + 5);
    expect(nextSyncAt(continuous, { completed: false, nextSyncAt: null, lastSyncAt: T - 1000 }, T)).toBe(T - 1000 + 60_000);
    expect(nextSyncAt(continuous, { completed: false, nextSyncAt: null, lastSyncAt: null }, T)).toBe(T + 60_000);
    expect(nextSyncAt(initialOnly, { completed: true, nextSyncAt: T + 5, lastSyncAt: T }, T)).toBeNull();
    expect(nextSyncAt({ ...continuous, kind: 'upload' as const }, { completed: false, nextSyncAt: T, lastSyncAt: T }, T)).toBeNull();
  });

  it('is COMPLETED only while initial_only: a completed source switched to continuous is to be cleared', () => {
    expect(completedButContinuous(state({ completed: true }), continuous)).toBe(true);
    expect(completedButContinuous(state({ completed: true }), initialOnly)).toBe(false);
    expect(completedButContinuous(state({ completed: false }), continuous)).toBe(false);
  });

  it('waits until the due time, at once when overdue, and without a timer when unscheduled or held', () => {
    expect(scheduleWaitMs(state({ nextSyncAt: T + 1500 }), T)).toBe(1500);
    expect(scheduleWaitMs(state({ nextSyncAt: T - 1500 }), T)).toBe(0);
    expect(scheduleWaitMs(state({ nextSyncAt: null }), T)).toBeUndefined();
    expect(scheduleWaitMs(state({ nextSyncAt: T + 1, paused: true }), T)).toBeUndefined();
    expect(scheduleWaitMs(state({ nextSyncAt: T + 1, suspended: true }), T)).toBeUndefined();
  });
});

describe("a run's outcome", () => {
  const discovery = { kind: 'discovery' as const, dryRun: false };

  it('resets the failure count on success and restarts the schedule from now', () => {
    const s = state({ consecutiveFailures: 2, nextSyncAt: T - 5, runs: 4 });
    expect(settleRun(s, discovery, { status: 'JOB_STATUS_SUCCEEDED', consecutiveFailures: 0 }, continuous, T)).toBe(false);
    expect(s).toMatchObject({ consecutiveFailures: 0, runs: 5, lastSyncAt: T, nextSyncAt: T + 60_000, completed: false });
  });

  it('takes the failure count the run reports and suspends at the limit', () => {
    const s = state({ consecutiveFailures: 1 });
    expect(settleRun(s, discovery, { status: FAILED, consecutiveFailures: 2 }, continuous, T)).toBe(false);
    expect(s).toMatchObject({ consecutiveFailures: 2, suspended: false });
    expect(settleRun(s, discovery, { status: FAILED, consecutiveFailures: 3 }, continuous, T + 1)).toBe(true);
    expect(s).toMatchObject({ consecutiveFailures: 3, suspended: true, runs: 2, lastSyncAt: T + 1, nextSyncAt: T + 1 + 60_000 });
  });

  it('leaves the schedule and the failure count to reconciling runs when an event run ends', () => {
    const event = { kind: 'ingestion' as const, dryRun: false, events: true };
    const s = state({ consecutiveFailures: 2, nextSyncAt: T - 5, lastSyncAt: T - 100, runs: 1 });
    expect(settleRun(s, event, { status: 'JOB_STATUS_SUCCEEDED', consecutiveFailures: 2 }, continuous, T)).toBe(false);
    // The overdue scheduled scan stays due, and a success here does not wipe the listing's failures.
    expect(s).toMatchObject({ consecutiveFailures: 2, runs: 2, lastSyncAt: T - 100, nextSyncAt: T - 5 });
    expect(settleRun(s, event, { status: FAILED, consecutiveFailures: 3 }, continuous, T + 1)).toBe(true);
    expect(s).toMatchObject({ consecutiveFailures: 3, suspended: true, nextSyncAt: T - 5 });
  });

  it('counts a run whose workflow itself failed as one more failure', () => {
    expect(failedRun(state({ consecutiveFailures: 2 }))).toEqual({ status: FAILED, consecutiveFailures: 3 });
    const s = state({ consecutiveFailures: 2 });
    expect(settleRun(s, discovery, failedRun(s), continuous, T)).toBe(true);
    expect(s.suspended).toBe(true);
  });

  it('leaves the failure count alone when a run is cancelled', () => {
    const s = state({ consecutiveFailures: 2 });
    settleRun(s, discovery, { status: CANCELED, consecutiveFailures: 0 }, initialOnly, T);
    expect(s).toMatchObject({ consecutiveFailures: 2, completed: false, runs: 1 });
  });

  it('completes an initial-only source after its first real discovery, and stops polling', () => {
    const ok = { status: 'JOB_STATUS_SUCCEEDED' as const, consecutiveFailures: 0 };
    const s = state();
    settleRun(s, { kind: 'discovery', dryRun: true }, ok, initialOnly, T);
    expect(s).toMatchObject({ completed: false, nextSyncAt: T + 60_000 });
    settleRun(s, { kind: 'ingestion', dryRun: false }, ok, initialOnly, T);
    expect(s.completed).toBe(false);
    settleRun(s, discovery, ok, initialOnly, T);
    expect(s).toMatchObject({ completed: true, nextSyncAt: null });
    // A continuous source never completes.
    const c = state();
    settleRun(c, discovery, ok, continuous, T);
    expect(c.completed).toBe(false);
  });
});

describe('idle polls', () => {
  it('polls cheaply unless a discovery is already queued, which the due poll merges into', () => {
    expect(pollsCheaply(state())).toBe(true);
    const s = state();
    enqueue(s.queue, objectsArrivedRequest(), ids());
    enqueue(s.queue, discoverRequest({ dryRun: true }), ids());
    expect(pollsCheaply(s)).toBe(true);
    enqueue(s.queue, triggerRequest({ fullSync: true }), ids());
    expect(pollsCheaply(s)).toBe(false);
  });

  it('settles as a successful discovery at the time the poll was recorded, without a status change to record', () => {
    const s = state({ consecutiveFailures: 2, nextSyncAt: T - 5, runs: 3 });
    expect(settleIdlePoll(s, continuous, T)).toBe(false);
    expect(s).toMatchObject({ consecutiveFailures: 0, runs: 4, lastSyncAt: T, nextSyncAt: T + 60_000, completed: false });
  });

  it('completes an initial-only source, a status change the poll itself does not record', () => {
    const s = state();
    expect(settleIdlePoll(s, initialOnly, T)).toBe(true);
    expect(s).toMatchObject({ completed: true, nextSyncAt: null });
    expect(sourceStatus(s)).toBe('SOURCE_STATUS_COMPLETED');
  });

  it('continues as new when Temporal suggests it or after IDLE_POLLS_PER_RUN polls, not before', () => {
    expect(continueAfterIdlePoll(1, false)).toBe(false);
    expect(continueAfterIdlePoll(IDLE_POLLS_PER_RUN - 1, false)).toBe(false);
    expect(continueAfterIdlePoll(IDLE_POLLS_PER_RUN, false)).toBe(true);
    expect(continueAfterIdlePoll(1, true)).toBe(true);
  });
});

describe('the failure budget', () => {
  const discovery = { kind: 'discovery' as const, dryRun: false };
  /** One failed run as the catalog finishes it: the count it reports from the source's count before. */
  const failed = (s: ControllerState, progressed: boolean) => ({
    status: FAILED,
    consecutiveFailures: failuresAfterFailedRun(s.consecutiveFailures, progressed),
  });

  it('adds one for a failed run that copied nothing, and halves (rounding down) for one that made progress', () => {
    expect(failuresAfterFailedRun(0, false)).toBe(1);
    expect(failuresAfterFailedRun(4, false)).toBe(5);
    expect(failuresAfterFailedRun(0, true)).toBe(0);
    expect(failuresAfterFailedRun(1, true)).toBe(0);
    expect(failuresAfterFailedRun(2, true)).toBe(1);
    expect(failuresAfterFailedRun(5, true)).toBe(2);
  });

  it('sees progress in objects finished or bytes copied', () => {
    expect(madeProgress({ objectsProcessed: 0, bytesTransferred: 0 })).toBe(false);
    expect(madeProgress({ objectsProcessed: 3, bytesTransferred: 0 })).toBe(true);
    // Copied, its pipelines not yet run.
    expect(madeProgress({ objectsProcessed: 0, bytesTransferred: 10 })).toBe(true);
  });

  it('never suspends a source whose failed runs all make progress', () => {
    const s = state();
    for (let i = 0; i < 10; i++) expect(settleRun(s, discovery, failed(s, true), continuous, T + i)).toBe(false);
    expect(s).toMatchObject({ consecutiveFailures: 0, suspended: false, runs: 10 });
  });

  it('suspends at the limit when runs without progress outweigh those with: two of every three is enough', () => {
    const s = state();
    const outcomes = [false, false, true, false, false];
    const suspended = outcomes.map((progressed, i) => settleRun(s, discovery, failed(s, progressed), continuous, T + i));
    expect(suspended).toEqual([false, false, false, false, true]);
    expect(s).toMatchObject({ consecutiveFailures: 3, suspended: true });
    // Alternating, the count never gets past one.
    const alt = state();
    for (let i = 0; i < 10; i++) settleRun(alt, discovery, failed(alt, i % 2 === 1), continuous, T + i);
    expect(alt).toMatchObject({ consecutiveFailures: 0, suspended: false });
  });
});

describe("a job workflow's end outside its own catch", () => {
  const child = (cause: Error) =>
    new ChildWorkflowFailure('default', { workflowId: 'lakesync-job-x', runId: 'r' }, 'syncRun', RetryState.NON_RETRYABLE_FAILURE, cause);

  it('names a termination, a timeout and a failure as failed with the reason, and a cancellation as canceled', () => {
    expect(childEnd(child(new TerminatedFailure('Terminated')))).toEqual({ reason: 'job workflow terminated before it finished', canceled: false });
    expect(childEnd(child(new TimeoutFailure(undefined, undefined, 'START_TO_CLOSE')))).toEqual({
      reason: 'job workflow timed out (START_TO_CLOSE)',
      canceled: false,
    });
    expect(childEnd(child(new CancelledFailure('Cancelled')))).toEqual({ reason: 'job workflow cancelled', canceled: true });
    const wrapped = ApplicationFailure.create({ message: 'outer', cause: ApplicationFailure.create({ message: 'database refused the write' }) });
    expect(childEnd(child(wrapped))).toEqual({ reason: 'job workflow failed: database refused the write', canceled: false });
    expect(childEnd('odd')).toEqual({ reason: 'job workflow failed: odd', canceled: false });
  });
});

describe('what the controller reports', () => {
  it('names the phase, stopping and running first', () => {
    expect(phase(state({ paused: true, suspended: true }), 'job_1', true)).toBe('stopping');
    expect(phase(state({ paused: true, suspended: true }), 'job_1', false)).toBe('running');
    expect(phase(state({ paused: true, suspended: true, completed: true }), null, false)).toBe('suspended');
    expect(phase(state({ paused: true, completed: true }), null, false)).toBe('paused');
    expect(phase(state({ completed: true }), null, false)).toBe('completed');
    expect(phase(state(), null, false)).toBe('idle');
  });

  it('names the source status, suspension first', () => {
    expect(sourceStatus(state({ suspended: true, paused: true }))).toBe('SOURCE_STATUS_SUSPENDED');
    expect(sourceStatus(state({ paused: true, completed: true }))).toBe('SOURCE_STATUS_PAUSED');
    expect(sourceStatus(state({ completed: true }))).toBe('SOURCE_STATUS_COMPLETED');
    expect(sourceStatus(state())).toBe('SOURCE_STATUS_ACTIVE');
  });

  it('mirrors a suspended source as paused, with the extras given', () => {
    expect(snapshot(state({ suspended: true, nextSyncAt: T }))).toEqual({
      status: 'SOURCE_STATUS_SUSPENDED',
      paused: true,
      pauseReason: null,
      pausedBy: null,
      nextSyncAt: T,
    });
    expect(snapshot(state({ paused: true, pauseReason: 'x', pausedBy: 'alice' }), { consecutiveFailures: 0 })).toEqual({
      status: 'SOURCE_STATUS_PAUSED',
      paused: true,
      pauseReason: 'x',
      pausedBy: 'alice',
      nextSyncAt: null,
      consecutiveFailures: 0,
    });
    // A pause carried over from before pausedBy was kept: unknown, so the row keeps what the route wrote; nobody's once resumed.
    const carried: ControllerState = { ...state({ paused: true }), pausedBy: undefined };
    expect(snapshot(carried).pausedBy).toBeUndefined();
    expect(snapshot({ ...carried, paused: false }).pausedBy).toBeNull();
  });

  it('answers the status query with the head of the queue', () => {
    const s = state({ paused: true, pauseReason: 'r', runs: 3, lastSyncAt: T, nextSyncAt: T + 1, consecutiveFailures: 1 });
    expect(status(s, null, false)).toEqual({
      phase: 'paused',
      paused: true,
      pauseReason: 'r',
      currentJobId: null,
      queuedJobId: null,
      nextSyncAt: T + 1,
      lastSyncAt: T,
      consecutiveFailures: 1,
      runs: 3,
      status: 'SOURCE_STATUS_PAUSED',
    });
    const next = ids();
    enqueue(s.queue, triggerRequest(undefined), next);
    enqueue(s.queue, objectsArrivedRequest(), next);
    expect(status(s, 'job_0', false)).toMatchObject({ phase: 'running', currentJobId: 'job_0', queuedJobId: 'job_1' });
  });

  it('reports the same source status as it mirrors, whatever the phase', () => {
    // A job running on a completed initial-only source: the phase says running, the source stays completed.
    const done = state({ completed: true });
    expect(status(done, 'job_1', false)).toMatchObject({ phase: 'running', status: 'SOURCE_STATUS_COMPLETED' });
    expect(status(done, 'job_1', false).status).toBe(snapshot(done).status);
    expect(status(state({ suspended: true }), 'job_1', true)).toMatchObject({ phase: 'stopping', status: 'SOURCE_STATUS_SUSPENDED' });
    expect(status(state({ paused: true }), 'job_1', false)).toMatchObject({ phase: 'running', status: 'SOURCE_STATUS_PAUSED' });
    expect(status(state(), 'job_1', false)).toMatchObject({ phase: 'running', status: 'SOURCE_STATUS_ACTIVE' });
  });
});
