import { sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { sources } from '../db/schema.js';
import { JOB_STATUS, SOURCE_STATUS } from '../domain/statuses.js';

type SourceSet = PgUpdateSetSource<typeof sources>;

/**
 * What a pause or resume writes into the source row at once, as the
 * controller (workflows/controller/logic.ts applyPause, sourceStatus) will
 * mirror it when it takes the signal: the route answers with the changed row
 * instead of the state before it.
 */

/** Paused by `by` for `reason`; a suspension stays the status shown, and pausedAt stays when it was first held. */
export const pausedSet = (reason: string | null, by: string | null): SourceSet => ({
  paused: true,
  pauseChangedAt: sql`now()`,
  pauseReason: reason,
  pausedBy: by,
  pausedAt: sql`coalesce(${sources.pausedAt}, now())`,
  status: sql`case when ${sources.status} = ${SOURCE_STATUS.suspended} then ${SOURCE_STATUS.suspended} else ${SOURCE_STATUS.paused} end`,
});

/**
 * Resumed: a suspension lifted forgets its failures; an initial_only source
 * whose initial discovery succeeded is COMPLETED again, any other ACTIVE.
 */
export const resumedSet = (): SourceSet => ({
  paused: false,
  pauseChangedAt: sql`now()`,
  pauseReason: null,
  pausedBy: null,
  pausedAt: null,
  consecutiveFailures: sql`case when ${sources.status} = ${SOURCE_STATUS.suspended} then 0 else ${sources.consecutiveFailures} end`,
  status: sql`case when ${sources.syncMode} = 'initial_only' and exists (select 1 from jobs j where j.source_id = ${sources.id} and j.kind = 'discovery'
    and not j.dry_run and j.status in (${JOB_STATUS.succeeded}, ${JOB_STATUS.partial})) then ${SOURCE_STATUS.completed} else ${SOURCE_STATUS.active} end`,
});
