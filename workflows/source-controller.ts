import {
  type ActivityOptions,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Priority } from '@temporalio/common';
import type { ControllerInput, ControllerState, IngestAccepted, IngestRequest, QueuedRun } from '../domain/messages/workflows/v1.js';
import type { PollResult, SourceSettings } from '../domain/messages/controller-state/v1.js';
import {
  configChangedSignal,
  discoverUpdate,
  ingestUpdate,
  pauseSignal,
  resumeSignal,
  runPauseSignal,
  searchAttributes,
  statusQuery,
  stopSignal,
  syncRunWorkflowId,
  triggerSignal,
  objectsArrivedSignal,
  objectsChangedSignal,
  tenantPresent,
} from './shared.js';
import {
  applyPause,
  childEnd,
  completedButContinuous,
  continueAfterIdlePoll,
  discoverMessage,
  discoverRequest,
  enqueue,
  failedRun,
  held,
  ingestRequest,
  type RunRequest,
  initialControllerState,
  nextSyncAt,
  objectsArrivedRequest,
  objectsChangedRequest,
  pollsCheaply,
  runnable,
  scheduleWaitMs,
  scheduledRequest,
  settleIdlePoll,
  settleRun,
  snapshot,
  status,
  triggerRequest,
} from './controller/logic.js';
import { syncRun } from './sync-run.js';

/**
 * Runs started before this patch did their I/O (creating jobs, previews,
 * signalling the run, recording state) inside signal and update handlers, and
 * their histories hold that command order. They replay on that path; every
 * new run records the marker and has handlers that only set state. Once no
 * controller run without the marker is open (a paused one can wait in one run
 * for ever: list them before removing), this becomes `deprecatePatch`.
 */
export const HANDLERS_SET_STATE_ONLY = 'controller-handlers-set-state-only';

/**
 * A scheduled poll that merged into a queued run whose createJob was still in
 * flight started the child before the job row existed, so its start and
 * counters found no row. Runs that did so replay as they ran; new ones wait.
 */
export const POLL_WAITS_FOR_JOB_ROW = 'controller-poll-waits-for-job-row';

/**
 * A job whose workflow closed outside its own catch (terminated by an
 * operator, timed out, failed or cancelled) used to be counted as a failure
 * and left RUNNING. Runs that took such an end replay as they ran; new ones
 * record the marker and finish the job row (finishAbandonedJob) before
 * settling, taking its answer as the run's. Only a replay of a run that took
 * the old path takes it again, and such a run continues as new right after:
 * once every controller open at the deploy has done so, this becomes
 * `deprecatePatch`.
 */
export const CHILD_END_FINISHES_JOB = 'controller-child-end-finishes-job';

/**
 * A scheduled poll used to be a job: createJob, a child workflow of six
 * activities, then continue-as-new — 16 billable actions and 94 history
 * events to learn that nothing changed. Runs with this marker poll with one
 * activity (pollSource: list, diff, record the poll if nothing is owed) and
 * stay in the same run after an idle poll, continuing as new when Temporal
 * suggests it or every IDLE_POLLS_PER_RUN polls; a poll that finds work runs
 * its job as before. Runs without the marker replay on the old path and
 * continue as new after their next poll, so once every controller open at
 * the deploy has polled (or been resumed), this becomes `deprecatePatch`.
 */
export const IDLE_POLLS_STAY_IN_RUN = 'controller-idle-polls-stay-in-run';

/**
 * An initial_only source that completed stayed COMPLETED after a PATCH to
 * continuous, though it polled again. Runs with this marker clear `completed`
 * when the settings they read say continuous, so the source shows ACTIVE.
 * The marker is asked for only when that case arises, so histories that never
 * met it replay unchanged, and one that met it without the marker replays as
 * it ran. Becomes `deprecatePatch` once no controller open at the deploy still
 * carries a completed state under continuous settings.
 */
export const COMPLETED_FOLLOWS_SYNC_MODE = 'controller-completed-follows-sync-mode';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

// A rule's preview matches every stored object of the source against it: minutes for millions.
const { previewRuleRun } = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

// Lists the whole source when nothing changed, so as long as a scan; its pages after the first heartbeat.
const POLL: ActivityOptions = {
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '1 minute',
  // Bounded: a poll that keeps failing hands over to a job, whose failure is counted toward suspension.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
};
const { pollSource } = proxyActivities<Activities>(POLL);

const newJobId = (): string => `job_${uuid4().replace(/-/g, '')}`;

/**
 * A source's heavy work (its polls, its sync runs) is dispatched under its
 * organisation's fairness key (README "Tenant fairness"). Settings recorded
 * before the key existed carry none, and their replay schedules as it ran.
 */
const fairness = (settings: SourceSettings): { priority?: Priority } => (settings.fairnessKey ? { priority: { fairnessKey: settings.fairnessKey } } : {});

/** An ingest request waiting for its preview and job; its update handler waits for the outcome. */
interface IngestAsk {
  req: IngestRequest;
  started: boolean;
  outcome: { answer: IngestAccepted } | { failure: unknown } | null;
}

/**
 * The entity workflow behind one source: owns its schedule, runs one job at a
 * time, takes pause/resume/trigger from the API or the `temporal` CLI, and
 * continues as new after every job (and, between jobs, after idle polls when
 * Temporal suggests it or every IDLE_POLLS_PER_RUN) so its history stays small.
 *
 * Signal and update handlers only change state (decided in controller/logic.ts);
 * the workflow's own code does the I/O: the request loop below creates queued
 * jobs, previews ingests and tells a running job about a pause, and the run
 * cycle reads settings, waits for the schedule and runs the job.
 */
export async function sourceController(input: ControllerInput): Promise<void> {
  const { sourceId } = input;
  // Decided before any handler is set: a signal that started the workflow is delivered by setHandler.
  const handlersDoIo = !patched(HANDLERS_SET_STATE_ONLY);
  const idlePollsStay = patched(IDLE_POLLS_STAY_IN_RUN);
  const state: ControllerState = input.state ?? initialControllerState();
  let currentJobId: string | null = null;
  let stopping = false;
  /** Set when the schedule must be re-evaluated: config changed or the source resumed. */
  let reconsider = false;

  // Work the handlers leave for the request loop.
  /** Job ids whose createJob is under way. */
  const creating = new Set<string>();
  const ingests: IngestAsk[] = [];
  let pauseChanged = false;

  const record = (extra: { consecutiveFailures?: number; lastError?: string | null } = {}) =>
    acts.recordControllerState({ sourceId, ...snapshot(state, extra), takenAt: Date.now() });

  const createQueued = async (run: QueuedRun): Promise<void> => {
    creating.add(run.jobId);
    await acts.createJob({
      jobId: run.jobId,
      sourceId,
      kind: run.kind,
      trigger: run.trigger,
      fullSync: run.fullSync,
      retryFailed: run.retryFailed,
      dryRun: run.dryRun,
      sourceObjectId: run.sourceObjectId,
      ruleId: run.ruleId ?? null,
    });
    creating.delete(run.jobId);
    run.created = true;
  };

  /** Queues a request and waits until its job row exists: created here if new, else by whoever queued it. */
  const queueCreated = async (req: RunRequest): Promise<QueuedRun> => {
    const { run, fresh } = enqueue(state.queue, req, newJobId);
    if (fresh) await createQueued(run);
    else await condition(() => run.created);
    return run;
  };

  /** Known once the settings are read; the SDK adds workflowId, runId and workflowType. */
  let bucket: string | undefined;
  const fields = (extra: Record<string, unknown> = {}) => ({ bucket, sourceId, ...extra });

  /** Tells the running job whether to hold dispatch, then mirrors the state. */
  const pushPause = async (paused: boolean): Promise<void> => {
    if (currentJobId)
      await getExternalWorkflowHandle(syncRunWorkflowId(currentJobId))
        .signal(runPauseSignal, held(state))
        .catch(() => undefined);
    reconsider = true;
    await record(paused ? {} : { consecutiveFailures: state.consecutiveFailures });
  };

  const admitIngest = async (req: IngestRequest): Promise<IngestAccepted> => {
    const dispatched = req.ruleId
      ? await previewRuleRun({ sourceId, ruleId: req.ruleId })
      : await acts.previewIngestion({ sourceId, retryFailed: req.retryFailed ?? false, sourceObjectId: req.sourceObjectId ?? null });
    if (dispatched === 0) return { jobId: null, accepted: true, message: 'Dispatched 0 objects', dispatched: 0 };
    const run = await queueCreated(ingestRequest(req));
    return { jobId: run.jobId, accepted: true, message: `Dispatched ${dispatched} objects`, dispatched };
  };

  const setPaused = (paused: boolean, reason: string | null, by: string | null = null) => {
    log.info(paused ? 'source paused' : 'source resumed', fields({ reason, by, jobId: currentJobId }));
    applyPause(state, paused, reason, by);
    if (handlersDoIo) return pushPause(paused);
    pauseChanged = true;
    reconsider = true;
  };
  /** Queues a run; on the old path the handler also creates its job. */
  const request = (req: RunRequest) => {
    const { run, fresh } = enqueue(state.queue, req, newJobId);
    if (handlersDoIo && fresh) return createQueued(run);
  };
  const refuseWhileStopping = () => {
    if (stopping) throw new Error('source is being deleted');
  };

  setHandler(pauseSignal, (req) => setPaused(true, req?.reason ?? null, req?.by ?? null));
  setHandler(resumeSignal, () => setPaused(false, null));
  setHandler(configChangedSignal, () => void (reconsider = true));
  setHandler(stopSignal, () => void (stopping = true));
  setHandler(triggerSignal, (req) => request(triggerRequest(req)));
  setHandler(objectsArrivedSignal, () => request(objectsArrivedRequest()));
  // Only sets state, like every handler here: the request loop creates the job, the cycle runs it. It needs no
  // patch: a history that never took this signal replays the same commands, and only runs it queued carry `events`
  // into their sync run (whose applyEvents activity is reached only then).
  setHandler(objectsChangedSignal, () => request(objectsChangedRequest()));
  setHandler(
    discoverUpdate,
    async (req) => {
      let run: QueuedRun;
      if (handlersDoIo) run = await queueCreated(discoverRequest(req));
      else {
        run = enqueue(state.queue, discoverRequest(req), newJobId).run;
        await condition(() => run.created);
      }
      return { jobId: run.jobId, accepted: true, message: discoverMessage(run, currentJobId, state) };
    },
    { validator: (_req) => refuseWhileStopping() },
  );
  setHandler(
    ingestUpdate,
    async (req) => {
      if (handlersDoIo) return admitIngest(req);
      const ask: IngestAsk = { req, started: false, outcome: null };
      ingests.push(ask);
      await condition(() => ask.outcome !== null);
      // A preview that keeps failing fails the update, as it did when the handler ran it.
      if ('failure' in ask.outcome!) throw ask.outcome.failure;
      return ask.outcome!.answer;
    },
    { validator: (_req) => refuseWhileStopping() },
  );
  setHandler(statusQuery, () => status(state, currentJobId, stopping));

  // The request loop: does the I/O the handlers asked for, each piece as soon as it is asked, side by side.
  const inFlight = new Set<Promise<void>>();
  /** The first piece of requested I/O that failed: it fails the run, as it did when a signal handler did it. */
  let requestFailure: { error: unknown } | null = null;
  const track = (work: Promise<void>) => {
    const done: Promise<void> = work.then(
      () => void inFlight.delete(done),
      (error: unknown) => {
        inFlight.delete(done);
        requestFailure ??= { error };
      },
    );
    inFlight.add(done);
  };
  const requestFailed = async (): Promise<never> => {
    await condition(() => requestFailure !== null);
    throw requestFailure!.error;
  };
  const toCreate = () => state.queue.filter((r) => !r.created && !creating.has(r.jobId));
  let pausing = false;
  const asked = () => toCreate().length > 0 || ingests.some((a) => !a.started) || (pauseChanged && !pausing);
  /** Nothing asked for and nothing under way: safe to continue as new. */
  const requestsSettled = () => handlersDoIo || (!asked() && inFlight.size === 0);
  const serveRequests = async (): Promise<never> => {
    for (;;) {
      await condition(asked);
      for (const run of toCreate()) track(createQueued(run));
      for (const ask of ingests.filter((a) => !a.started)) {
        ask.started = true;
        track(
          admitIngest(ask.req)
            .then(
              (answer) => void (ask.outcome = { answer }),
              (failure: unknown) => void (ask.outcome = { failure }),
            )
            .finally(() => ingests.splice(ingests.indexOf(ask), 1)),
        );
      }
      if (pauseChanged && !pausing) {
        // One at a time, so the database never ends on an older pause than the workflow's.
        pauseChanged = false;
        pausing = true;
        track(pushPause(state.paused).finally(() => void (pausing = false)));
      }
    }
  };
  if (!handlersDoIo) void serveRequests();

  return Promise.race([cycle(), requestFailed()]);

  /**
   * One cycle: read the settings, wait for work or the schedule, run one job,
   * continue as new. Idle polls (new runs only) loop back to the wait instead.
   */
  async function cycle(): Promise<void> {
    let settings = await acts.getSourceSettings({ sourceId });
    if (!settings) {
      log.info('source is gone: controller ends', fields());
      return;
    }
    bucket = settings.bucketName;
    if (completedButContinuous(state, settings) && patched(COMPLETED_FOLLOWS_SYNC_MODE)) {
      log.info('source switched to continuous after completing: active again', fields());
      state.completed = false;
    }
    state.nextSyncAt = nextSyncAt(settings, state, Date.now());
    await record();

    let idlePolls = 0;
    let woke: boolean;
    for (;;) {
      // Wait for a queued request, the schedule, a config change, or deletion.
      const waitMs = scheduleWaitMs(state, Date.now());
      const wake = () => runnable(state) || stopping || reconsider;
      woke = await (waitMs === undefined
        ? condition(wake).then(() => true)
        : condition(wake, waitMs, { summary: `next scheduled poll (every ${settings.syncIntervalSeconds} s)` }));
      if (stopping) return;
      if (woke || !idlePollsStay || !pollsCheaply(state)) break;

      // The schedule is due: look cheaply, and only run a job if there is work.
      const poll: PollResult = await pollSource
        .executeWithOptions({ ...POLL, ...fairness(settings), summary: 'scheduled poll: list and diff; record it if nothing is owed' }, [
          { sourceId, jobId: newJobId() },
        ])
        .catch((err: unknown) => {
          if (isCancellation(err)) throw err;
          return { outcome: 'work' as const, reason: `the poll failed: ${err instanceof Error ? err.message : String(err)}` };
        });
      // Deleted while the poll listed: no job for a source that is going.
      if (stopping) return;
      if (poll.outcome === 'gone') {
        log.info('source is gone: controller ends', fields());
        return;
      }
      if (poll.outcome === 'work') {
        log.info('scheduled poll found work', fields({ reason: poll.reason }));
        break;
      }
      settings = poll.settings;
      bucket = settings.bucketName;
      // The poll recorded the sync and the next poll time; only a status it cannot know (initial_only completed) needs recording.
      if (settleIdlePoll(state, settings, poll.at)) await record();
      if (stopping) return;
      if (continueAfterIdlePoll(++idlePolls, workflowInfo().continueAsNewSuggested)) {
        log.info('continuing as new after idle polls', fields({ idlePolls }));
        await condition(() => allHandlersFinished() && requestsSettled());
        return continueAsNew<typeof sourceController>({ ...input, state });
      }
    }

    if (!woke) {
      // The schedule is due: queue a scheduled discovery unless one is waiting.
      const { run, fresh } = enqueue(state.queue, scheduledRequest(), newJobId);
      if (fresh) await createQueued(run);
      // Merged into a run whose job row is still being created: start it only once the row exists.
      else if (!run.created && patched(POLL_WAITS_FOR_JOB_ROW)) await condition(() => run.created);
    }
    if (reconsider && !runnable(state) && woke) {
      // Re-read settings and re-arm the timer on a fresh run.
      state.nextSyncAt = null;
      await condition(() => allHandlersFinished() && requestsSettled());
      return continueAsNew<typeof sourceController>({ ...input, state });
    }

    const run = state.queue.shift()!;
    currentJobId = run.jobId;
    tenantPresent(settings.fairnessKey);
    log.info('running job', fields({ jobId: run.jobId, kind: run.kind, trigger: run.trigger }));
    const result = await executeChild(syncRun, {
      workflowId: syncRunWorkflowId(run.jobId),
      args: [
        {
          jobId: run.jobId,
          sourceId,
          bucket: settings.bucketName,
          kind: run.kind,
          fullSync: run.fullSync,
          retryFailed: run.retryFailed,
          dryRun: run.dryRun,
          sourceObjectId: run.sourceObjectId,
          ruleId: run.ruleId ?? null,
          // Absent, not false, on every other run: their inputs stay as recorded histories hold them.
          ...(run.events ? { events: true } : {}),
          batchSize: settings.batchSize,
          batchConcurrency: settings.batchConcurrency,
          paused: state.paused,
          fairnessKey: settings.fairnessKey,
        },
      ],
      // The run's own workflow tasks take turns with other organisations' too.
      ...fairness(settings),
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [
        { key: searchAttributes.bucket, value: settings.bucketName },
        { key: searchAttributes.sourceId, value: sourceId },
        { key: searchAttributes.sourceKind, value: settings.kind },
      ],
      memo: { sourceName: settings.name, trigger: run.trigger },
      // Kept short: a run's own history holds the detail.
      staticSummary: `${run.kind} job ${run.jobId}${run.fullSync ? ' (full sync)' : ''}`,
    }).catch(async (err: unknown) => {
      if (!patched(CHILD_END_FINISHES_JOB)) return { ...failedRun(state), error: err };
      const end = childEnd(err);
      log.warn('job workflow closed without finishing its job', fields({ jobId: run.jobId, reason: end.reason }));
      return acts.finishAbandonedJob({ jobId: run.jobId, sourceId, ...end });
    });
    currentJobId = null;

    if (settleRun(state, run, result, settings, Date.now()))
      log.warn('source suspended after failed runs in a row', fields({ jobId: run.jobId, consecutiveFailures: state.consecutiveFailures }));
    await record({ consecutiveFailures: state.consecutiveFailures });
    if (stopping) return;
    await condition(() => allHandlersFinished() && requestsSettled());
    return continueAsNew<typeof sourceController>({ ...input, state });
  }
}
