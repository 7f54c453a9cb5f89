/**
 * Pausing and resuming a source, for lakesync's routes and Mixpeek's alike:
 * the controller is signalled (started if it is not running), and the row is
 * written at once (api/pause-state.ts) so the answer shows the change.
 */
import { eq } from 'drizzle-orm';
import { sources, type SourceRow } from '../db/schema.js';
import { pauseSignal, resumeSignal } from '../workflows/shared.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';
import { pausedSet, resumedSet } from './pause-state.js';

export async function pauseSource(deps: ApiDeps, source: SourceRow, bucketName: string, reason: string | undefined, by: string | null): Promise<SourceRow> {
  await deps.temporal.workflow.signalWithStart('sourceController', {
    ...controllerStartOptions(deps, source, bucketName),
    signal: pauseSignal,
    signalArgs: [{ reason, by }],
  });
  const [row] = await deps.db
    .update(sources)
    .set(pausedSet(reason ?? null, by))
    .where(eq(sources.id, source.id))
    .returning();
  return row ?? source;
}

export async function resumeSource(deps: ApiDeps, source: SourceRow, bucketName: string): Promise<SourceRow> {
  await deps.temporal.workflow.signalWithStart('sourceController', {
    ...controllerStartOptions(deps, source, bucketName),
    signal: resumeSignal,
    signalArgs: [],
  });
  const [row] = await deps.db.update(sources).set(resumedSet()).where(eq(sources.id, source.id)).returning();
  return row ?? source;
}
