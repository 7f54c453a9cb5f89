import { eq, sql } from 'drizzle-orm';
import { buckets, sources } from '../db/schema.js';
import type { ActivityDeps } from './deps.js';
import type { SourceKind } from '../domain/kinds.js';

export interface SourceSettings {
  name: string;
  kind: SourceKind;
  bucketName: string;
  suspendAfterFailures: number;
  syncMode: 'initial_only' | 'continuous';
  syncIntervalSeconds: number;
  batchSize: number;
  batchConcurrency: number;
  lastSuccessAt: number | null;
}

export interface ControllerSnapshot {
  status: string;
  paused: boolean;
  pauseReason: string | null;
  nextSyncAt: number | null;
  consecutiveFailures?: number;
  lastError?: string | null;
}

export function controllerStateActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** Read every cycle, so a PATCH takes effect on the next poll without a restart. Null once deleted. */
    async getSourceSettings(input: { sourceId: string }): Promise<SourceSettings | null> {
      const [row] = await db
        .select({ s: sources, bucketName: buckets.name })
        .from(sources)
        .innerJoin(buckets, eq(buckets.id, sources.bucketId))
        .where(eq(sources.id, input.sourceId));
      if (!row) return null;
      const { s, bucketName } = row;
      return {
        name: s.name,
        kind: s.kind,
        bucketName,
        suspendAfterFailures: s.suspendAfterFailures,
        syncMode: s.syncMode,
        syncIntervalSeconds: s.syncIntervalSeconds,
        batchSize: s.batchSize,
        batchConcurrency: deps.batchConcurrency,
        lastSuccessAt: s.lastSuccessAt?.getTime() ?? null,
      };
    },

    /** Mirrors the controller's state into the database, which answers when Temporal can't. */
    async recordControllerState(input: { sourceId: string } & ControllerSnapshot): Promise<void> {
      await db
        .update(sources)
        .set({
          status: input.status,
          paused: input.paused,
          pauseReason: input.pauseReason,
          pausedAt: input.paused ? sql`coalesce(${sources.pausedAt}, now())` : null,
          nextSyncAt: input.nextSyncAt === null ? null : new Date(input.nextSyncAt),
          ...(input.consecutiveFailures !== undefined ? { consecutiveFailures: input.consecutiveFailures } : {}),
          ...(input.lastError !== undefined ? { lastError: input.lastError } : {}),
        })
        .where(eq(sources.id, input.sourceId));
    },
  };
}
