/**
 * Every status lakesync stores or reports, as value lists with a name for
 * each value. Dependency-free on purpose: the workflow sandbox, the CLI and
 * the API contracts all read it; db/schema.ts types its columns from it and
 * catalog/status.ts re-exports it beside its SQL helpers. Elsewhere a status
 * is named through these constants, never as a bare string literal (a unit
 * test checks).
 */

/** Where a source object stands; see the state machine in catalog/index.ts. */
export const OBJECT_STATUS = {
  /** Owed a copy (or, pushed, owed cataloguing) by the job in `pending_job_id`, or by the next one. */
  pending: 'pending',
  /** Copied into the lake at `lake_key`. */
  ingested: 'ingested',
  /** Dead-lettered: out of attempts, or failed for good. */
  dead: 'dead',
  /** Gone at the source, or removed from the lake. */
  deleted: 'deleted',
  /** Listed, but outside the source's filters. */
  filtered: 'filtered',
} as const;
export const OBJECT_STATUSES = Object.values(OBJECT_STATUS) as [ObjectStatus, ...ObjectStatus[]];
export type ObjectStatus = (typeof OBJECT_STATUS)[keyof typeof OBJECT_STATUS];

/**
 * How the API names an object's status, in K3's enum style (the enum's name,
 * then the value, as `JOB_STATUS_PENDING`): one name per stored status, so a
 * new status does not compile until it has one.
 */
export const SOURCE_OBJECT_STATUS = {
  pending: 'SOURCE_OBJECT_STATUS_OWED',
  ingested: 'SOURCE_OBJECT_STATUS_INGESTED',
  dead: 'SOURCE_OBJECT_STATUS_DEAD_LETTERED',
  deleted: 'SOURCE_OBJECT_STATUS_DELETED',
  filtered: 'SOURCE_OBJECT_STATUS_FILTERED',
} as const satisfies Record<ObjectStatus, `SOURCE_OBJECT_STATUS_${string}`>;
export const SOURCE_OBJECT_STATUSES = Object.values(SOURCE_OBJECT_STATUS) as [SourceObjectStatus, ...SourceObjectStatus[]];
export type SourceObjectStatus = (typeof SOURCE_OBJECT_STATUS)[ObjectStatus];
/** The stored status an API status name stands for. */
export const objectStatusNamed = (name: SourceObjectStatus): ObjectStatus =>
  (Object.keys(SOURCE_OBJECT_STATUS) as ObjectStatus[]).find((s) => SOURCE_OBJECT_STATUS[s] === name)!;

/** A job's lifecycle. */
export const JOB_STATUS = {
  pending: 'JOB_STATUS_PENDING',
  running: 'JOB_STATUS_RUNNING',
  succeeded: 'JOB_STATUS_SUCCEEDED',
  partial: 'JOB_STATUS_PARTIAL',
  failed: 'JOB_STATUS_FAILED',
  canceled: 'JOB_STATUS_CANCELED',
} as const;
export const JOB_STATUSES = Object.values(JOB_STATUS) as [JobStatus, ...JobStatus[]];
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];
/** How a finished job ended. */
export type JobOutcome = Exclude<JobStatus, typeof JOB_STATUS.pending | typeof JOB_STATUS.running>;
export const TERMINAL_JOB_STATUSES = [
  JOB_STATUS.succeeded,
  JOB_STATUS.partial,
  JOB_STATUS.failed,
  JOB_STATUS.canceled,
] as const satisfies readonly JobOutcome[];

/** One stored object's state in one pipeline. */
export const RUN_STATUS = {
  pending: 'pending',
  processing: 'processing',
  indexed: 'indexed',
  failed: 'failed',
  skipped: 'skipped',
} as const;
export const RUN_STATUSES = Object.values(RUN_STATUS) as [RunStatus, ...RunStatus[]];
export type RunStatus = (typeof RUN_STATUS)[keyof typeof RUN_STATUS];
/** How one pipeline's run over one object ended. */
export type RunOutcome = typeof RUN_STATUS.indexed | typeof RUN_STATUS.skipped | typeof RUN_STATUS.failed;
/** Outcomes that leave nothing owed: the same content is not run again. */
export const isSettledRun = (status: RunStatus | null | undefined): boolean => status === RUN_STATUS.indexed || status === RUN_STATUS.skipped;

/** What the controller mirrors into `sources.status`, and the API reports. */
export const SOURCE_STATUS = {
  active: 'SOURCE_STATUS_ACTIVE',
  paused: 'SOURCE_STATUS_PAUSED',
  suspended: 'SOURCE_STATUS_SUSPENDED',
  completed: 'SOURCE_STATUS_COMPLETED',
} as const;
export const SOURCE_STATUSES = Object.values(SOURCE_STATUS) as [SourceStatus, ...SourceStatus[]];
export type SourceStatus = (typeof SOURCE_STATUS)[keyof typeof SOURCE_STATUS];
