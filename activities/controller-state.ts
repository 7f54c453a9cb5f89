import { eq, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { buckets, rules, sources } from '../db/schema.js';
import type { ControllerSnapshot, SourceSettings } from '../domain/messages/controller-state/v1.js';
import type { ActivityDeps } from './deps.js';
import { fairnessKeyOf } from '../domain/fairness-key.js';
import { isPushed } from '../domain/kinds.js';

/**
 * Objects per batch of a pushed source at the least, while no rule of its bucket routes objects to pipelines. Its
 * batches then copy nothing (the objects are in the lake already) and run nothing: each catalogs its objects in a
 * few statements, so small batches cost far more in activities than in work. With pipelines, the source's own
 * size keeps their processing spread over as many batches as before.
 */
export const PUSHED_BATCH_SIZE = 1000;

/** A source's settings as the controller reads them (every cycle, and with every idle poll); null once deleted. */
export async function readSourceSettings(deps: Pick<ActivityDeps, 'db' | 'batchConcurrency'>, sourceId: string): Promise<SourceSettings | null> {
  const [row] = await deps.db
    .select({
      s: sources,
      bucketName: buckets.name,
      orgId: buckets.orgId,
      routes: sql<boolean>`exists (select 1 from ${rules} where ${rules.bucketId} = ${sources.bucketId} and ${rules.enabled})`,
    })
    .from(sources)
    .innerJoin(buckets, eq(buckets.id, sources.bucketId))
    .where(eq(sources.id, sourceId));
  if (!row) return null;
  const { s, bucketName, orgId, routes } = row;
  return {
    name: s.name,
    kind: s.kind,
    bucketName,
    suspendAfterFailures: s.suspendAfterFailures,
    syncMode: s.syncMode,
    syncIntervalSeconds: s.syncIntervalSeconds,
    batchSize: isPushed(s.kind) && !routes ? Math.max(s.batchSize, PUSHED_BATCH_SIZE) : s.batchSize,
    batchConcurrency: deps.batchConcurrency,
    lastSuccessAt: s.lastSuccessAt?.getTime() ?? null,
    fairnessKey: fairnessKeyOf(orgId),
  };
}

export function controllerStateActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** Read every cycle, so a PATCH takes effect on the next poll without a restart. Null once deleted. */
    async getSourceSettings(input: { sourceId: string }): Promise<SourceSettings | null> {
      return readSourceSettings(deps, input.sourceId);
    },

    /**
     * Mirrors the controller's state into the database, which answers when
     * Temporal can't. A snapshot the controller took before the API last
     * wrote a pause or resume into the row (one that reached the activity
     * after the write) leaves the pause columns as the API wrote them: the
     * mirror of the API's signal, taken later, writes them.
     */
    async recordControllerState(input: { sourceId: string } & ControllerSnapshot): Promise<void> {
      const takenAt = input.takenAt === undefined ? null : new Date(input.takenAt);
      /** `value` unless the API changed the pause after the snapshot was taken; then the column as it stands. */
      const pause = <T>(value: T | SQL, column: AnyPgColumn): T | SQL =>
        takenAt === null
          ? value
          : sql`case when ${sources.pauseChangedAt} is null or ${sources.pauseChangedAt} <= ${takenAt.toISOString()}::timestamptz then ${value} else ${column} end`;
      await db
        .update(sources)
        .set({
          status: pause(input.status, sources.status),
          paused: pause(input.paused, sources.paused),
          pauseReason: pause(input.pauseReason, sources.pauseReason),
          pausedAt: pause(input.paused ? sql`coalesce(${sources.pausedAt}, now())` : null, sources.pausedAt),
          // Left as the pause route wrote it when this controller does not know who paused (undefined).
          ...(input.pausedBy !== undefined ? { pausedBy: pause(input.pausedBy, sources.pausedBy) } : {}),
          nextSyncAt: input.nextSyncAt === null ? null : new Date(input.nextSyncAt),
          ...(input.consecutiveFailures !== undefined ? { consecutiveFailures: input.consecutiveFailures } : {}),
          ...(input.lastError !== undefined ? { lastError: input.lastError } : {}),
        })
        .where(eq(sources.id, input.sourceId));
    },
  };
}
