import { ApplicationFailure, Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import * as catalog from '../catalog/index.js';
import { FAILURE } from '../domain/failures.js';
import { reconcileWithDefaults } from '../domain/source-config.js';
import type { ActivityDeps } from './deps.js';
import { removeFromLake } from './lake-removal.js';
import { findEgressDenied } from './net/egress.js';
import { serverDown } from './net/outage.js';
import { storedErrorText } from '../domain/error-text.js';
import { pageFilter } from './page-filter.js';
import { loadSource } from './source-context.js';
import type { ListedObject } from './storage/types.js';

export interface ApplyEventsInput {
  jobId: string;
  sourceId: string;
}

export interface ApplyEventsResult {
  /** Keys the run looked at (HEAD or stat). */
  looked: number;
  owed: number;
  deleted: number;
}

/** Keys one page of events takes, and how many a run takes at most: the rest wait for the next run (their wake-up queued one). */
const EVENTS_PAGE = 500;
const EVENTS_PER_RUN = 20_000;

export function eventActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  return {
    /**
     * A targeted run's discovery: the keys change notifications named, each
     * looked at (HEAD, stat) and diffed against the etag checkpoint as a
     * scan's page is, so whatever order or how often the events came, the
     * checkpoint moves only to what the source holds now — an older event
     * after a newer one finds the object as it is and owes nothing. Present
     * keys that changed are owed to this job; keys gone at the source are
     * swept as deleted (removed from the lake first, with reconcile.onDelete).
     * Events are removed only once applied, and only if no newer one landed on
     * them meanwhile, so a retry repeats idempotent steps (catalog operations
     * guarded by the job count nothing twice).
     */
    async applyEvents(input: ApplyEventsInput): Promise<ApplyEventsResult> {
      const actx = Context.current();
      const ctx = await loadSource(deps, input.sourceId);
      const { source, reader } = ctx;
      const stat = reader.stat?.bind(reader);
      if (!stat)
        throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: `${ctx.kind} sources take no change notifications`, nonRetryable: true });
      const filter = pageFilter(source.filters, reader);
      const reconcile = reconcileWithDefaults(source.reconcile);
      const ref = { jobId: input.jobId, sourceId: input.sourceId, fullSync: false };
      const [{ scan_pass: pass } = { scan_pass: 0 }] = await sql<{ scan_pass: number }[]>`select scan_pass from sources where id = ${input.sourceId}`;
      const limit = pLimit(deps.objectConcurrency);
      const result: ApplyEventsResult = { looked: 0, owed: 0, deleted: 0 };
      // Every 2 s, as batches do: a page of HEADs on a slow source can outlast the 20 s heartbeat timeout.
      const heartbeat = setInterval(() => actx.heartbeat(result), 2000);
      try {
        while (result.looked < EVENTS_PER_RUN) {
          const taken = await catalog.waitingEvents(sql, input.sourceId, EVENTS_PAGE);
          if (taken.length === 0) break;
          // A key the source will not describe (refused, SSE-C, too long) must not hold up every event after it:
          // its event is dropped and the scheduled scan, which lists rather than HEADs, deals with it. A server
          // that is down, or a destination the policy refuses, is the source's problem: the attempt fails.
          let unreadable = 0;
          let firstError: unknown;
          const seen = await Promise.all(
            taken.map((e) =>
              limit(async (): Promise<ListedObject | null | undefined> => {
                try {
                  return await stat(e.key);
                } catch (err) {
                  if (serverDown(err) || findEgressDenied(err)) throw err;
                  unreadable++;
                  firstError ??= err;
                  return undefined;
                }
              }),
            ),
          );
          if (unreadable > 0)
            actx.log.warn('change notifications for keys the source would not describe were dropped; the scheduled scan covers them', {
              sourceId: input.sourceId,
              jobId: input.jobId,
              keys: unreadable,
              error: storedErrorText(firstError),
            });
          const present = seen.filter((o): o is ListedObject => o != null);
          const gone = taken.filter((_, i) => seen[i] === null).map((e) => e.key);
          const { matched, unmatched } = await filter(present);
          await sql.begin(async (tx) => {
            const { fresh, changed } = await catalog.oweListed(tx, ref, pass, matched, reconcile.onUpdate, source.maxObjectsPerRun);
            result.owed += fresh + changed;
          });
          if (unmatched.length > 0) {
            if (reconcile.onFilterDrift) await removeFromLake(deps, ctx.bucketName, await catalog.driftedLakeKeys(sql, input.sourceId, unmatched));
            await catalog.recordFiltered(sql, ref, pass, unmatched, reconcile.onFilterDrift);
          }
          const rows = await catalog.objectsAtKeys(sql, input.sourceId, gone);
          if (rows.length > 0) {
            if (reconcile.onDelete)
              await removeFromLake(
                deps,
                ctx.bucketName,
                rows.filter((r) => r.stored).map((r) => r.lakeKey!),
              );
            result.deleted += await catalog.sweepDeleted(
              sql,
              ref,
              rows.map((r) => r.id),
              reconcile.onDelete,
            );
          }
          await catalog.consumeEvents(sql, input.sourceId, taken);
          result.looked += taken.length;
          actx.heartbeat(result);
        }
      } finally {
        clearInterval(heartbeat);
      }
      actx.log.info('change notifications applied', { sourceId: input.sourceId, jobId: input.jobId, ...result });
      return result;
    },
  };
}
