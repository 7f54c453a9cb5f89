// The one lookup an S3 request starts with: its access key and, in the same round trip, the bucket the
// request names within the key's organisation and that bucket's push source. A small PUT otherwise paid
// three queries before its bytes moved.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { buckets, serviceAccountKeys, sources, type SourceRow } from '../../db/schema.js';
import type { SecretBox } from '../../domain/secrets.js';
import { PUSH_SOURCE_NAME } from '../push-source.js';
import { ACCESS_KEY_ID, activeKeyOf, type ActiveKey } from '../service-keys.js';
import type { BucketRow } from './access.js';

/** The bucket a request names, as found with its key: null when the key's organisation has none by that name. */
export interface NamedBucket {
  name: string;
  bucket: BucketRow | null;
  /** Its push source, once created (null before the bucket's first push). */
  pushSource: SourceRow | null;
}

function callerQuery(db: Db) {
  return db
    .select({ key: serviceAccountKeys, bucket: buckets, pushSource: sources })
    .from(serviceAccountKeys)
    .leftJoin(buckets, and(eq(buckets.orgId, serviceAccountKeys.orgId), eq(buckets.name, sql.placeholder('bucket'))))
    .leftJoin(sources, and(eq(sources.bucketId, buckets.id), eq(sources.name, PUSH_SOURCE_NAME)))
    .where(and(eq(serviceAccountKeys.id, sql.placeholder('id')), isNull(serviceAccountKeys.revokedAt)))
    .prepare('s3_caller');
}

/** Built once per database handle: the statement's text is not rebuilt per request. */
const prepared = new WeakMap<Db, ReturnType<typeof callerQuery>>();

/**
 * The active key with this id (null when unknown, revoked or malformed, as findActiveKey) and, when
 * `bucketName` is given, that bucket as the key's organisation holds it.
 */
export async function findCaller(
  deps: { db: Db; secrets: SecretBox },
  accessKeyId: string,
  bucketName: string | null,
): Promise<{ key: ActiveKey; named: NamedBucket | null } | null> {
  if (!ACCESS_KEY_ID.test(accessKeyId)) return null;
  let query = prepared.get(deps.db);
  if (!query) prepared.set(deps.db, (query = callerQuery(deps.db)));
  // An empty name matches no bucket (bucket names are 3 characters or more).
  const [row] = await query.execute({ id: accessKeyId, bucket: bucketName ?? '' });
  const key = row && activeKeyOf(deps.secrets, row.key);
  if (!key) return null;
  return { key, named: bucketName === null ? null : { name: bucketName, bucket: row.bucket, pushSource: row.pushSource } };
}
