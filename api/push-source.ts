import { and, eq } from 'drizzle-orm';
import { buckets, sources, type SourceRow } from '../db/schema.js';
import { newId } from '../domain/ids.js';
import { owePushed, recordRemovedFromLake } from '../catalog/index.js';
import { controllerWorkflowId, objectsArrivedSignal } from '../workflows/shared.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';
import type { ObjectMetadata } from '../lake/types.js';

type Bucket = typeof buckets.$inferSelect;

/** Objects pushed into a bucket (direct PUTs) belong to its built-in `upload` source. */
export const PUSH_SOURCE_NAME = 'direct-puts';

export async function ensurePushSource(deps: ApiDeps, bucket: Bucket) {
  const [existing] = await deps.db
    .select()
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), eq(sources.name, PUSH_SOURCE_NAME)));
  if (existing) return existing;
  const id = newId('src');
  await deps.db
    .insert(sources)
    .values({
      id,
      bucketId: bucket.id,
      name: PUSH_SOURCE_NAME,
      kind: 'upload',
      connection: { upload: {} },
      workflowId: controllerWorkflowId(id),
      syncIntervalSeconds: 86_400,
    })
    .onConflictDoNothing();
  const [row] = await deps.db
    .select()
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), eq(sources.name, PUSH_SOURCE_NAME)));
  return row!;
}

const pendingSignals = new Map<string, NodeJS.Timeout>();

/**
 * Tells the controller objects arrived, at most once per 200 ms per source: the
 * catalog row is the durable record and the signal only a wake-up, so a burst
 * of thousands of PUTs costs a few signals and a few coalesced runs. (Should
 * this process die before signalling, the periodic controller check signals
 * for any upload source with objects still pending.)
 */
function signalSoon(deps: ApiDeps, source: SourceRow, bucketName: string): void {
  if (pendingSignals.has(source.id)) return;
  pendingSignals.set(
    source.id,
    setTimeout(() => {
      pendingSignals.delete(source.id);
      // Wrapped so a client already closed (the API shutting down) rejects here rather than throwing in a timer.
      Promise.resolve()
        .then(() =>
          deps.temporal.workflow.signalWithStart('sourceController', {
            ...controllerStartOptions(deps, source, bucketName),
            signal: objectsArrivedSignal,
            signalArgs: [],
          }),
        )
        .catch((err) => deps.log.warn({ err, sourceId: source.id }, 'could not signal arrivals; the periodic check will'));
    }, 200),
  );
}

/** Catalogs an object that arrived by push, to be ingested by its source's controller; `metadata` as owePushed takes it. */
export async function recordArrival(
  deps: ApiDeps,
  bucket: Bucket,
  key: string,
  put: { etag: string; size: number; contentHash: string | null },
  metadata?: ObjectMetadata | null,
): Promise<void> {
  const source = await ensurePushSource(deps, bucket);
  await owePushed(deps.db, { id: newId('sobj'), sourceId: source.id, key, etag: put.etag, size: put.size, contentHash: put.contentHash, metadata });
  signalSoon(deps, source, bucket.name);
}

/** An object removed from the lake: whichever source brought it, its catalog row no longer points at the lake. */
export async function recordRemoval(deps: ApiDeps, bucket: Bucket, key: string): Promise<void> {
  await recordRemovedFromLake(deps.db, bucket.id, key);
}
