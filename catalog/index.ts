/**
 * The catalog: what lakesync knows of every object its sources hold. The only
 * module that writes `source_objects`, the `jobs` rows and counters (with the
 * source totals that move with them), the derived-data tables
 * (`object_pipeline_runs`, `fulltext_documents`, `embedding_chunks`) and `lake_purges`;
 * test/unit/catalog-writes.test.ts fails on a write anywhere else.
 *
 * A source object's state machine (`source_objects.status`, ObjectStatus).
 * Besides its status, an object is owed a copy by the job in `pending_job_id`
 * and pipeline runs by the job in `process_job_id`; `missing_pass` marks it
 * not listed by a scan's pass.
 *
 *              oweListed · owePushed · assignOwed
 *    (new) ───────────────────────────────────────────► pending ◄──── owe again: oweListed (changed, back,
 *      │                                               │  │  ▲        full sync), owePushed (pushed again),
 *      │ recordFiltered          recordCopied,         │  │  │        assignOwed (named; dead with retryFailed)
 *      ▼                         recordDuplicate       │  │  │
 *   filtered ◄─ recordFiltered ─ ingested ◄────────────┘  │  └─ recordFailedAttempt (attempts left)
 *              (onFilterDrift;                            │
 *               else it stays ingested)                   └──► dead   recordFailedAttempt (last attempt, or permanent)
 *
 *   pending, dead, deleted (listed outside the filters) ── recordFiltered ────────────────► filtered
 *   any status but deleted ── markMissing, then sweepDeleted (not in a complete listing) ──► deleted
 *   any status, at a lake key that left the lake ── recordRemovedFromLake ─────────────────► deleted
 *
 * | operation             | moves                                                    | called by |
 * |-----------------------|----------------------------------------------------------|-----------|
 * | oweListed             | new, deleted, filtered, changed, still owed → pending (owed to this job; past maxObjectsPerRun, owed to none) | discovery scan, each page |
 * | recordFiltered        | new, pending, dead, deleted, filtered, outside the filters → filtered, owed to none (an ingested one stays, unless onFilterDrift: the scan removed it from the lake first) | discovery scan, each page |
 * | deferExcess           | pending owed to this job → pending owed to none (maxObjectsPerRun, where concurrent shards' pages overshot it) | oweListed, last |
 * | markMissing           | sets or clears missing_pass; no status change            | discovery scan, each page |
 * | sweepDeleted          | marked missing by this pass → deleted; drops derived data | discovery scan, after a complete listing |
 * | owePushed             | new or any → pending (the object is already in the lake) | api/push-source.ts (direct PUTs, upload syncs) |
 * | assignOwed            | pending, dead (retryFailed), the named one → pending owed to this job | ingestion (prepareIngestion) |
 * | recordCopied          | pending owed to this job → ingested (owed processing when rules route it) | ingestion (SuccessRecorder) |
 * | recordDuplicate       | the same, pointing at a lake key that holds its content  | ingestion (skipDuplicates) |
 * | recordFailedAttempt   | pending → pending (attempts + 1) or → dead               | ingestion |
 * | adoptOwedProcessing   | ingested → ingested owed processing by this job          | processing (each ingestion job) |
 * | oweRuleRun            | ingested → ingested owed processing by this rule's job   | processing (rule re-run, back-fill) |
 * | markProcessing        | pipeline runs → processing                               | processing |
 * | recordProcessed       | ingested owed processing → ingested; runs recorded, unselected pipelines' data dropped | processing |
 * | recordRemovedFromLake | any status at that lake key → deleted; drops derived data | api (DELETE, upload rollback), activities/uploads.ts (FULL sync trash) |
 * | dropDerivedData       | derived tables only                                      | sweepDeleted, recordRemovedFromLake, recordProcessed, api/backfill.ts (unrouted pipelines) |
 * | owePurge, clearPurged | lake_purges                                              | api/routes/sources.ts (DELETE ?purge=true), activities/purge.ts |
 *
 * Jobs: createJob (JOB_STATUS_PENDING) → startJob (RUNNING) → finishJob
 * (SUCCEEDED, PARTIAL, FAILED or CANCELED, once), all from activities/jobs.ts;
 * a job whose workflow closed without finishing it is finished by
 * finishAbandonedJob (FAILED with the reason, or CANCELED), from the controller
 * (activities/jobs.ts) or the periodic check (api/controllers.ts);
 * job-counters.ts holds every counter update, each inside the transaction of
 * the change it counts and guarded so a retry counts nothing twice.
 */
export * from './status.js';
export * from './derived.js';
export * from './jobs.js';
export * from './job-counters.js';
export * from './scan.js';
export * from './quiet-page.js';
export * from './shards.js';
export * from './objects.js';
export * from './processing.js';
export * from './fulltext.js';
export * from './embedding.js';
export * from './purges.js';
export * from './events.js';
