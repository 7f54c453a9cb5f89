import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  assignOwed,
  countBatch,
  owedInRange,
  previewOwed,
  recordDuplicate,
  recordFailedAttempt,
  storedWithContent,
  type OwedObject,
} from '../catalog/index.js';
import type { ActivityDeps } from './deps.js';
import { loadSource, type SourceContext } from './source-context.js';
import { SuccessRecorder } from './success-recorder.js';
import { loadRouting } from '../db/routing.js';
import { isPushed } from '../domain/kinds.js';
import { joinKey, lakeKeyProblem, unstorableKey } from '../lake/keys.js';
import type { ObjectMetadata, PutResult } from '../lake/types.js';
import { recorded } from '../metrics/registry.js';
import { storedErrorText } from '../domain/error-text.js';
import { findEgressDenied } from './net/egress.js';
import { destinationFailure } from './net/destination-failure.js';
import { publicDestinationError } from './net/public-error.js';
import { OUTAGE_BATCH_ATTEMPTS, serverDown } from './net/outage.js';

export interface BatchResult {
  ingested: number;
  skipped: number;
  deadLettered: number;
  bytes: number;
  /** Stored objects of this batch that its pipelines still have to run on. */
  toProcess: number;
}

export function ingestionActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  /**
   * Copies one object into the lake: server-side when the lake can reach it
   * (the copy keeps the source's metadata), else streamed; `metadata` is what
   * the catalog must hold for a lake that does not keep it.
   */
  async function copyObject(ctx: SourceContext, obj: OwedObject, lakeKey: string): Promise<{ lakeKey: string; put: PutResult; metadata?: ObjectMetadata }> {
    const location = ctx.reader.s3Location?.(obj.key);
    if (location) {
      const copied = await deps.lake.copyFrom(ctx.bucketName, lakeKey, location, obj.size);
      if (copied) return { lakeKey, put: copied };
    }
    const { body, contentType, size } = await ctx.reader.openRead(obj.key);
    try {
      // A reader that knows the size of what it opened (a row read whole) says so: the listing's may be older.
      const put = await deps.lake.put(ctx.bucketName, lakeKey, body, { contentType, size: size ?? obj.size });
      return { lakeKey, put, metadata: deps.lake.keepsMetadata ? undefined : { contentType } };
    } catch (err) {
      // A put refused before reading (a clash in the directory lake) must not leave the source stream open.
      body.destroy();
      throw err;
    }
  }

  /** Where an object lands; a key no lake can store (too long with the prefix, empty segments, control characters) fails for good before anything is read. */
  function lakeKeyOf(ctx: SourceContext, obj: OwedObject): string {
    const lakeKey = joinKey(ctx.source.targetPrefix, obj.key);
    const problem = lakeKeyProblem(lakeKey);
    if (problem) throw unstorableKey(lakeKey, problem);
    return lakeKey;
  }

  /** skipDuplicates: where the same content already sits in this bucket's lake, if anywhere. */
  async function findDuplicate(ctx: SourceContext, obj: OwedObject): Promise<{ hash: string; lakeKey: string } | null> {
    const hash = await ctx.reader.contentHash(obj.key, obj.etag);
    if (!hash) return null;
    for (const lakeKey of await storedWithContent(sql, ctx.source.bucketId, hash, obj.id))
      if (await deps.lake.head(ctx.bucketName, lakeKey)) return { hash, lakeKey };
    return null;
  }

  /**
   * Counts a failed attempt; the last allowed one dead-letters the object, and
   * so does a permanent failure (a refused file or key: retrying cannot help).
   * Returns true when dead.
   */
  async function recordFailure(jobId: string, sourceId: string, obj: OwedObject, error: string, permanent: boolean): Promise<boolean> {
    const deadAt = permanent ? 0 : deps.maxAttempts;
    const attempts = await recordFailedAttempt(sql, { jobId, sourceId }, obj.id, error, deadAt);
    recorded.failure(sourceId, attempts, deadAt);
    return attempts !== undefined && attempts >= deadAt;
  }

  return {
    /**
     * Splits what a job still owes into batches after `afterKey`: returns the
     * last key of each batch, never the objects themselves. `partial`: while
     * the scan runs, what is owed short of a whole batch goes out too (the
     * run asks when nothing is in flight and a look found no whole batch).
     */
    async planBatches(input: {
      jobId: string;
      afterKey: string | null;
      batchSize: number;
      maxBatches: number;
      scanning?: boolean;
      partial?: boolean;
    }): Promise<string[]> {
      // While the scan runs, only keys up to its committed cursor are final, and only whole batches go out unless asked.
      let bound: string | null = null;
      if (input.scanning) {
        const [job] = await sql<{ scan_cursor: string | null }[]>`select scan_cursor from jobs where id = ${input.jobId}`;
        if (!job?.scan_cursor) return [];
        bound = job.scan_cursor;
      }
      const rows = await sql<{ key: string }[]>`
        select key from source_objects
        where (pending_job_id = ${input.jobId} or process_job_id = ${input.jobId}) and (${input.afterKey}::text is null or key > ${input.afterKey})
          and (${bound}::text is null or key <= ${bound})
        order by key limit ${input.batchSize * input.maxBatches}`;
      const ends: string[] = [];
      for (let i = input.batchSize - 1; i < rows.length; i += input.batchSize) ends.push(rows[i]!.key);
      if (rows.length % input.batchSize !== 0 && (!input.scanning || input.partial)) ends.push(rows.at(-1)!.key);
      return ends;
    },

    /** Copies every object of one batch with bounded concurrency, retrying each with backoff. */
    async ingestBatch(input: { jobId: string; sourceId: string; afterKey: string | null; lastKey: string }): Promise<BatchResult> {
      const actx = Context.current();
      const ctx = await loadSource(deps, input.sourceId);
      await countBatch(sql, input, input.lastKey);
      const routing = await loadRouting(deps, ctx.source.bucketId);
      const routed = (lakeKey: string) => !routing.empty && routing.route({ sourceId: input.sourceId, lakeKey }).length > 0;
      const owed = await owedInRange(sql, input.jobId, input.afterKey, input.lastKey);
      const result: BatchResult = { ingested: 0, skipped: 0, deadLettered: 0, bytes: 0, toProcess: 0 };
      const recorder = new SuccessRecorder(sql, input.jobId, input.sourceId);
      // A copy takes its organisation's turn (the tenant share) before its source's copy slot: a held-back
      // organisation's queued copies hold no slot a newcomer's could use.
      const org = actx.info.priority?.fairnessKey;
      const turn = <T>(fn: () => Promise<T>) =>
        deps.tenants.run(
          org,
          (started) =>
            deps.copySlots.run(input.sourceId, () => {
              started();
              return fn();
            }),
          actx.cancellationSignal,
        );
      const heartbeat = setInterval(() => actx.heartbeat({ ...result, ingested: recorder.recorded }), 2000);
      // A refused destination fails the whole batch for good; objects not yet started are left owed.
      let refused = false;
      // A server down (source, lake, Postgres) fails this attempt of the batch once its copies in flight end; nothing is charged.
      let outage: unknown = undefined;
      const patient = actx.info.attempt < OUTAGE_BATCH_ATTEMPTS;
      try {
        await Promise.all(
          owed.map((obj) =>
            turn(async () => {
              if (actx.cancellationSignal.aborted || refused || outage !== undefined) return; // left owed: the retried batch copies it
              for (let attempt = obj.attempts; attempt < deps.maxAttempts; attempt++) {
                try {
                  if (isPushed(ctx.kind)) {
                    // Pushed objects are already in the lake: ingestion catalogs them.
                    recorder.add({ id: obj.id, lakeKey: obj.key, contentHash: null, process: routed(obj.key) });
                    return;
                  }
                  const lakeKey = lakeKeyOf(ctx, obj);
                  if (!(await deps.throttle.take(actx.cancellationSignal))) return; // cancelled while waiting its turn: left owed
                  const dup = ctx.source.skipDuplicates ? await findDuplicate(ctx, obj) : null;
                  if (dup) {
                    if (await recordDuplicate(sql, input.jobId, obj.id, dup, routed(dup.lakeKey))) result.skipped++;
                    return;
                  }
                  const { put, metadata } = await copyObject(ctx, obj, lakeKey);
                  recorder.add({ id: obj.id, lakeKey, contentHash: put.contentHash, process: routed(lakeKey), metadata });
                  return;
                } catch (err) {
                  if (findEgressDenied(err)) {
                    refused = true;
                    throw destinationFailure(err, deps.egress, (detail) =>
                      actx.log.warn('object copy refused', { jobId: input.jobId, key: obj.key, ...detail }),
                    );
                  }
                  const permanent = err instanceof ApplicationFailure && err.nonRetryable === true;
                  if (!permanent && patient && serverDown(err)) {
                    outage ??= err;
                    return; // left owed, its attempts untouched
                  }
                  actx.log.warn('object copy failed', { jobId: input.jobId, key: obj.key, attempt: attempt + 1, permanent, error: storedErrorText(err) });
                  // What the tenant sees (dead letters, failed objects); strict mode hides how a connection failed.
                  const message = publicDestinationError(err, deps.egress.mode === 'strict') ?? storedErrorText(err);
                  if (await recordFailure(input.jobId, input.sourceId, obj, message, permanent)) {
                    result.deadLettered++;
                    return;
                  }
                  await new Promise((r) => setTimeout(r, deps.retryBackoffMs * 4 ** (attempt - obj.attempts)));
                }
              }
            }),
          ),
        );
        await recorder.close();
        actx.cancellationSignal.throwIfAborted(); // cancelled (worker shutting down): fail this attempt so the batch is retried now, not after a heartbeat timeout
        if (outage !== undefined) {
          // What was copied is recorded; the rest waits for the batch's retry, with the policy's backoff.
          actx.log.warn('a server is down; the batch is retried', { jobId: input.jobId, recorded: recorder.recorded, error: storedErrorText(outage) });
          throw destinationFailure(outage, deps.egress, () => undefined) ?? outage;
        }
      } finally {
        clearInterval(heartbeat);
      }
      const [owing] = await sql<{ n: string }[]>`
        select count(*) as n from source_objects where process_job_id = ${input.jobId}
          and (${input.afterKey}::text is null or key > ${input.afterKey}) and key <= ${input.lastKey}`;
      return { ...result, ingested: recorder.recorded, bytes: recorder.bytes, toProcess: Number(owing?.n ?? 0) };
    },

    /** How many objects an ingestion request would dispatch, without changing anything. */
    async previewIngestion(input: { sourceId: string; retryFailed: boolean; sourceObjectId?: string | null }): Promise<number> {
      return previewOwed(sql, input);
    },

    /** Assigns owed (and, when asked, dead-lettered) objects to an ingestion job. */
    async prepareIngestion(input: { jobId: string; sourceId: string; retryFailed: boolean; sourceObjectId?: string | null }): Promise<number> {
      return assignOwed(sql, input);
    },
  };
}
