/**
 * Pausing and resuming a source, for lakesync's routes and Mixpeek's alike:
 * the row is written at once (api/pause-state.ts) so the answer shows the
 * change, and then the controller is signalled (started if it is not
 * running). In that order, the controller's own mirror of the signal always
 * lands after the route's write: of two racing requests, the row ends as the
 * workflow does, whichever order their writes and signals interleave in. The
 * write records when it happened (pauseChangedAt), so a mirror of a state the
 * controller took before it, landing after it, leaves it alone.
 */
import { and, eq } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { sources, type SourceRow } from '../db/schema.js';
import { pauseSignal, resumeSignal } from '../workflows/shared.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';
import { pausedSet, resumedSet } from './pause-state.js';
import { grpcStatusOf } from './unavailable.js';

export async function pauseSource(deps: ApiDeps, source: SourceRow, bucketName: string, reason: string | undefined, by: string | null): Promise<SourceRow> {
  const row = await write(deps, source, pausedSet(reason ?? null, by));
  await signalOrUndo(deps, source, true, () =>
    deps.temporal.workflow.signalWithStart('sourceController', {
      ...controllerStartOptions(deps, source, bucketName),
      signal: pauseSignal,
      signalArgs: [{ reason, by }],
    }),
  );
  return row;
}

export async function resumeSource(deps: ApiDeps, source: SourceRow, bucketName: string): Promise<SourceRow> {
  const row = await write(deps, source, resumedSet());
  await signalOrUndo(deps, source, false, () =>
    deps.temporal.workflow.signalWithStart('sourceController', {
      ...controllerStartOptions(deps, source, bucketName),
      signal: resumeSignal,
      signalArgs: [],
    }),
  );
  return row;
}

async function write(deps: ApiDeps, source: SourceRow, set: PgUpdateSetSource<typeof sources>): Promise<SourceRow> {
  const [row] = await deps.db.update(sources).set(set).where(eq(sources.id, source.id)).returning();
  return row ?? source;
}

/**
 * A signal that did not reach the controller changed nothing: the pause columns go back to what they showed, if they
 * still hold what this request wrote. Only when the server surely did not take it (UNAVAILABLE: never connected); after a
 * deadline or an unknown error it may have, and then the controller's mirror is what the row must end with.
 */
async function signalOrUndo(deps: ApiDeps, source: SourceRow, wrote: boolean, signal: () => Promise<unknown>): Promise<void> {
  try {
    await signal();
  } catch (err) {
    if (grpcStatusOf(err) === 14)
      await deps.db
        .update(sources)
        .set({ paused: source.paused, pauseReason: source.pauseReason, pausedBy: source.pausedBy, pausedAt: source.pausedAt, status: source.status })
        .where(and(eq(sources.id, source.id), eq(sources.paused, wrote)))
        .catch(() => undefined);
    throw err;
  }
}
