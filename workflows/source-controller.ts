import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  uuid4,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
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
  type ControllerStatus,
} from './shared.js';
import { syncRun } from './sync-run.js';
import { isPushed } from '../domain/kinds.js';

/** A run waiting to start; requests that arrive meanwhile merge into it. */
interface QueuedRun {
  jobId: string;
  kind: 'discovery' | 'ingestion';
  trigger: 'schedule' | 'api' | 'direct_put';
  fullSync: boolean;
  retryFailed: boolean;
  dryRun: boolean;
  sourceObjectId: string | null;
  /** Re-runs this rule's pipelines; runs for different rules never merge. */
  ruleId?: string | null;
  created: boolean;
}

export interface ControllerState {
  paused: boolean;
  pauseReason: string | null;
  suspended: boolean;
  completed: boolean;
  consecutiveFailures: number;
  runs: number;
  lastSyncAt: number | null;
  /** When the next scheduled poll is due (epoch ms). */
  nextSyncAt: number | null;
  queue: QueuedRun[];
}

export interface ControllerInput {
  sourceId: string;
  state?: ControllerState;
}

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

// A rule's preview matches every stored object of the source against it: minutes for millions.
const { previewRuleRun } = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

const newJobId = (): string => `job_${uuid4().replace(/-/g, '')}`;

/**
 * The entity workflow behind one source: owns its schedule, runs one job at a
 * time, takes pause/resume/trigger from the API or the `temporal` CLI, and
 * continues as new after every run so its history stays small.
 */
export async function sourceController(input: ControllerInput): Promise<void> {
  const { sourceId } = input;
  const state: ControllerState = input.state ?? {
    paused: false,
    pauseReason: null,
    suspended: false,
    completed: false,
    consecutiveFailures: 0,
    runs: 0,
    lastSyncAt: null,
    nextSyncAt: null,
    queue: [],
  };
  let currentJobId: string | null = null;
  let stopping = false;
  /** Set when the schedule must be re-evaluated: config changed or the source resumed. */
  let reconsider = false;

  const phase = (): ControllerStatus['phase'] =>
    stopping ? 'stopping' : currentJobId ? 'running' : state.suspended ? 'suspended' : state.paused ? 'paused' : state.completed ? 'completed' : 'idle';

  const sourceStatus = (): string =>
    state.suspended ? 'SOURCE_STATUS_SUSPENDED' : state.paused ? 'SOURCE_STATUS_PAUSED' : state.completed ? 'SOURCE_STATUS_COMPLETED' : 'SOURCE_STATUS_ACTIVE';

  const record = (extra: { consecutiveFailures?: number; lastError?: string | null } = {}) =>
    acts.recordControllerState({
      sourceId,
      status: sourceStatus(),
      paused: state.paused || state.suspended,
      pauseReason: state.pauseReason,
      nextSyncAt: state.nextSyncAt,
      ...extra,
    });

  /** Queues a run, or merges into the queued one of the same kind: one follow-up, however many triggers. */
  const enqueue = (req: Omit<QueuedRun, 'jobId' | 'created'>): { run: QueuedRun; fresh: boolean } => {
    const existing = state.queue.find((q) => q.kind === req.kind && q.dryRun === req.dryRun && (q.ruleId ?? null) === (req.ruleId ?? null));
    if (existing) {
      existing.fullSync ||= req.fullSync;
      existing.retryFailed ||= req.retryFailed;
      if (existing.sourceObjectId !== req.sourceObjectId) existing.sourceObjectId = null;
      return { run: existing, fresh: false };
    }
    const run: QueuedRun = { ...req, jobId: newJobId(), created: false };
    state.queue.push(run);
    return { run, fresh: true };
  };

  const createQueued = async (run: QueuedRun): Promise<void> => {
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
    run.created = true;
  };

  /** Known once the settings are read; the SDK adds workflowId, runId and workflowType. */
  let bucket: string | undefined;
  const fields = (extra: Record<string, unknown> = {}) => ({ bucket, sourceId, ...extra });

  const setPaused = async (paused: boolean, reason: string | null) => {
    log.info(paused ? 'source paused' : 'source resumed', fields({ reason, jobId: currentJobId }));
    state.paused = paused;
    state.pauseReason = paused ? reason : null;
    if (!paused && state.suspended) {
      state.suspended = false;
      state.consecutiveFailures = 0;
    }
    if (currentJobId)
      await getExternalWorkflowHandle(syncRunWorkflowId(currentJobId))
        .signal(runPauseSignal, paused || state.suspended)
        .catch(() => undefined);
    reconsider = true;
    await record(paused ? {} : { consecutiveFailures: state.consecutiveFailures });
  };

  setHandler(pauseSignal, (req) => setPaused(true, req?.reason ?? null));
  setHandler(resumeSignal, () => setPaused(false, null));
  setHandler(configChangedSignal, () => void (reconsider = true));
  setHandler(stopSignal, () => void (stopping = true));
  setHandler(triggerSignal, async (req) => {
    const { run, fresh } = enqueue({
      kind: 'discovery',
      trigger: 'api',
      fullSync: req?.fullSync ?? false,
      retryFailed: req?.retryFailed ?? false,
      dryRun: false,
      sourceObjectId: null,
    });
    if (fresh) await createQueued(run);
  });
  setHandler(objectsArrivedSignal, async () => {
    const { run, fresh } = enqueue({ kind: 'ingestion', trigger: 'direct_put', fullSync: false, retryFailed: false, dryRun: false, sourceObjectId: null });
    if (fresh) await createQueued(run);
  });
  setHandler(
    discoverUpdate,
    async (req) => {
      const { run, fresh } = enqueue({
        kind: 'discovery',
        trigger: 'api',
        fullSync: req.fullSync ?? false,
        retryFailed: false,
        dryRun: req.dryRun ?? false,
        sourceObjectId: null,
      });
      if (fresh) await createQueued(run);
      else await condition(() => run.created);
      const what = run.dryRun ? 'Dry-run discovery' : 'Discovery';
      const message = currentJobId
        ? `${what} queued after job ${currentJobId}`
        : state.paused || state.suspended
          ? `${what} queued until the source is resumed`
          : run.dryRun
            ? 'Dry-run discovery scan started'
            : 'Discovery scan started';
      return { jobId: run.jobId, accepted: true, message };
    },
    {
      validator: (_req) => {
        if (stopping) throw new Error('source is being deleted');
      },
    },
  );
  setHandler(
    ingestUpdate,
    async (req) => {
      const ruleId = req.ruleId ?? null;
      const dispatched = ruleId
        ? await previewRuleRun({ sourceId, ruleId })
        : await acts.previewIngestion({ sourceId, retryFailed: req.retryFailed ?? false, sourceObjectId: req.sourceObjectId ?? null });
      if (dispatched === 0) return { jobId: null, accepted: true, message: 'Dispatched 0 objects', dispatched: 0 };
      const { run, fresh } = ruleId
        ? enqueue({ kind: 'ingestion', trigger: 'api', fullSync: false, retryFailed: false, dryRun: false, sourceObjectId: null, ruleId })
        : enqueue({
            kind: 'ingestion',
            trigger: 'api',
            fullSync: false,
            retryFailed: req.retryFailed ?? false,
            dryRun: false,
            sourceObjectId: req.sourceObjectId ?? null,
          });
      if (fresh) await createQueued(run);
      else await condition(() => run.created);
      return { jobId: run.jobId, accepted: true, message: `Dispatched ${dispatched} objects`, dispatched };
    },
    {
      validator: (_req) => {
        if (stopping) throw new Error('source is being deleted');
      },
    },
  );
  setHandler(statusQuery, () => ({
    phase: phase(),
    paused: state.paused,
    pauseReason: state.pauseReason,
    currentJobId,
    queuedJobId: state.queue[0]?.jobId ?? null,
    nextSyncAt: state.nextSyncAt,
    lastSyncAt: state.lastSyncAt,
    consecutiveFailures: state.consecutiveFailures,
    runs: state.runs,
  }));

  const settings = await acts.getSourceSettings({ sourceId });
  if (!settings) {
    log.info('source is gone: controller ends', fields());
    return;
  }
  bucket = settings.bucketName;
  // Push-only sources have nothing to poll: they run when objects arrive.
  const scheduled = !isPushed(settings.kind) && (settings.syncMode === 'continuous' || !state.completed);
  state.nextSyncAt = scheduled ? (state.nextSyncAt ?? (state.lastSyncAt ?? Date.now()) + settings.syncIntervalSeconds * 1000) : null;
  await record();

  // Wait for a queued request, the schedule, a config change, or deletion.
  const runnable = () => !state.paused && !state.suspended && state.queue.length > 0 && state.queue[0]!.created;
  const waitMs = state.nextSyncAt === null || state.paused || state.suspended ? undefined : Math.max(0, state.nextSyncAt - Date.now());
  const wake = () => runnable() || stopping || reconsider;
  const woke = await (waitMs === undefined
    ? condition(wake).then(() => true)
    : condition(wake, waitMs, { summary: `next scheduled poll (every ${settings.syncIntervalSeconds} s)` }));

  if (stopping) return;
  if (!woke) {
    // The schedule is due: queue a scheduled discovery unless one is waiting.
    const { run, fresh } = enqueue({ kind: 'discovery', trigger: 'schedule', fullSync: false, retryFailed: false, dryRun: false, sourceObjectId: null });
    if (fresh) await createQueued(run);
  }
  if (reconsider && !runnable() && woke) {
    // Re-read settings and re-arm the timer on a fresh run.
    state.nextSyncAt = null;
    await condition(allHandlersFinished);
    return continueAsNew<typeof sourceController>({ ...input, state });
  }

  const run = state.queue.shift()!;
  currentJobId = run.jobId;
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
        batchSize: settings.batchSize,
        batchConcurrency: settings.batchConcurrency,
        paused: state.paused,
      },
    ],
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    typedSearchAttributes: [
      { key: searchAttributes.bucket, value: settings.bucketName },
      { key: searchAttributes.sourceId, value: sourceId },
      { key: searchAttributes.sourceKind, value: settings.kind },
    ],
    memo: { sourceName: settings.name, trigger: run.trigger },
    // Kept short: a run's own history holds the detail.
    staticSummary: `${run.kind} job ${run.jobId}${run.fullSync ? ' (full sync)' : ''}`,
  }).catch((err: unknown) => ({ status: 'JOB_STATUS_FAILED', consecutiveFailures: state.consecutiveFailures + 1, error: err }));
  currentJobId = null;
  state.runs++;
  state.lastSyncAt = Date.now();

  if (result.status === 'JOB_STATUS_FAILED') {
    state.consecutiveFailures = result.consecutiveFailures;
    if (state.consecutiveFailures >= settings.suspendAfterFailures) {
      state.suspended = true;
      log.warn('source suspended after failed runs in a row', fields({ jobId: run.jobId, consecutiveFailures: state.consecutiveFailures }));
    }
  } else if (result.status !== 'JOB_STATUS_CANCELED') {
    state.consecutiveFailures = 0;
    if (settings.syncMode === 'initial_only' && run.kind === 'discovery' && !run.dryRun) state.completed = true;
  }
  state.nextSyncAt =
    !isPushed(settings.kind) && (settings.syncMode === 'continuous' || !state.completed) ? Date.now() + settings.syncIntervalSeconds * 1000 : null;
  await record({ consecutiveFailures: state.consecutiveFailures });
  if (stopping) return;
  await condition(allHandlersFinished);
  return continueAsNew<typeof sourceController>({ ...input, state });
}
