import { and, eq } from 'drizzle-orm';
import { buckets, sources, type SourceRow } from '../db/schema.js';
import { newId } from '../domain/ids.js';
import { owePushed, recordRemovedFromLake } from '../catalog/index.js';
import { controllerWorkflowId, objectsArrivedSignal } from '../workflows/shared.js';
import { wakeControllerSoon } from './wake-controller.js';
import type { ApiDeps } from './deps.js';
import type { ObjectMetadata } from '../lake/types.js';

type Bucket = typeof buckets.$inferSelect;

/** Objects pushed into a bucket (direct PUTs) belong to its built-in `upload` source. */
export const PUSH_SOURCE_NAME = 'direct-puts';

/** The bucket's push source, created on its first push; `known` is one the caller already looked up (an S3 request's). */
export async function ensurePushSource(deps: ApiDeps, bucket: Bucket, known?: SourceRow | null) {
  if (known && known.bucketId === bucket.id && known.name === PUSH_SOURCE_NAME) return known;
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

/** Catalogs an object that arrived by push, to be ingested by its source's controller; `metadata` as owePushed takes it. */
export async function recordArrival(
  deps: ApiDeps,
  bucket: Bucket,
  key: string,
  put: { etag: string; size: number; contentHash: string | null },
  metadata?: ObjectMetadata | null,
  knownSource?: SourceRow | null,
): Promise<void> {
  const source = await ensurePushSource(deps, bucket, knownSource);
  await owePushed(deps.db, { id: newId('sobj'), sourceId: source.id, key, etag: put.etag, size: put.size, contentHash: put.contentHash, metadata });
  wakeControllerSoon(deps, source, bucket.name, objectsArrivedSignal);
}

/** An object removed from the lake: whichever source brought it, its catalog row no longer points at the lake. */
export async function recordRemoval(deps: ApiDeps, bucket: Bucket, key: string): Promise<void> {
  await recordRemovedFromLake(deps.db, bucket.id, key);
}
