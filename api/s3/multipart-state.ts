import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import type { Db } from '../../db/client.js';
import type { MultipartUploadRow } from '../../db/schema.js';
import { MultipartUploadGone } from '../../lake/multipart.js';
import type { LakeStore, ObjectMetadata, StoredPart } from '../../lake/types.js';

/**
 * The state of S3 multipart uploads (tables `multipart_uploads`,
 * `multipart_parts`): the one writer of those tables. The S3 operations call
 * it, and so does the worker's clean-up of abandoned uploads.
 *
 * Races: a part is recorded under a share lock on its upload while the upload
 * is `open`, so parts of different numbers land side by side, and a Complete
 * (which first moves the upload to `completing` under a row lock) reads every
 * part recorded before it and none after. Abort deletes only an `open`
 * upload, so a Complete and an Abort racing leave exactly one outcome.
 *
 * A Complete's claim is a lease (`claimed_at`): the running Complete renews it every
 * `COMPLETE_LEASE_MS / 3` (`renewClaim`), so a `completing` upload whose claim is older than the lease
 * belongs to a Complete that died (a crash between claim and finish/release), and another Complete may
 * claim it again instead of answering OperationAborted until the clean-up.
 */

/**
 * Five minutes: a renewed claim is never older than a third of it unless its process stopped (or lost the
 * database for minutes), and a client retrying a Complete after a crash is answered within minutes rather
 * than days. Renewal, not the lease's length, covers long joins (a directory lake joining terabytes).
 */
export const COMPLETE_LEASE_MS = 5 * 60 * 1000;

/** An upload as read here (its `seq` only orders listings). */
export type MultipartUpload = Omit<MultipartUploadRow, 'seq'>;
export type UploadState = MultipartUpload['state'];

/** 24 random bytes, base64url: unguessable, and safe in a query string unescaped. */
const newUploadId = (): string => randomBytes(24).toString('base64url');

const UPLOAD_COLUMNS = `id, bucket_id as "bucketId", key, org_id as "orgId", access_key_id as "accessKeyId", metadata,
  lake_handle as "lakeHandle", state, completed_etag as "completedEtag", created_at as "createdAt", claimed_at as "claimedAt"`;

/** drizzle's postgres.js client leaves timestamps as text: rows read here get Dates. */
const withDate = <T extends { createdAt: Date; claimedAt: Date | null }>(row: T): T => ({
  ...row,
  createdAt: new Date(row.createdAt),
  claimedAt: row.claimedAt === null ? null : new Date(row.claimedAt),
});

export async function createUpload(
  db: Db,
  u: { bucketId: string; key: string; orgId: string; accessKeyId: string | null; metadata: ObjectMetadata; lakeHandle: string },
): Promise<MultipartUpload> {
  const sql = db.$client;
  const [row] = await sql<MultipartUpload[]>`
    insert into multipart_uploads (id, bucket_id, key, org_id, access_key_id, metadata, lake_handle)
    values (${newUploadId()}, ${u.bucketId}, ${u.key}, ${u.orgId}, ${u.accessKeyId}, ${JSON.stringify(u.metadata)}::jsonb, ${u.lakeHandle})
    returning ${sql.unsafe(UPLOAD_COLUMNS)}`;
  return withDate(row!);
}

/** The upload, when it is one of `key` in that bucket (S3 answers NoSuchUpload for an id given with another key). */
export async function findUpload(db: Db, bucketId: string, key: string, uploadId: string): Promise<MultipartUpload | null> {
  const sql = db.$client;
  const [row] = await sql<MultipartUpload[]>`
    select ${sql.unsafe(UPLOAD_COLUMNS)} from multipart_uploads where id = ${uploadId} and bucket_id = ${bucketId} and key = ${key}`;
  return row ? withDate(row) : null;
}

/**
 * Records a stored part, replacing one of the same number; false when the
 * upload is no longer open (aborted, completing, completed, cleaned up): the
 * caller removes nothing, the lake's part goes with the upload.
 */
export async function recordPart(db: Db, uploadId: string, part: StoredPart): Promise<boolean> {
  return db.$client.begin(async (tx) => {
    const open = await tx`select 1 from multipart_uploads where id = ${uploadId} and state = 'open' for share`;
    if (open.length === 0) return false;
    await tx`
      insert into multipart_parts (upload_id, part_number, etag, size, lake_part)
      values (${uploadId}, ${part.partNumber}, ${part.etag}, ${part.size}, ${part.lakePart})
      on conflict (upload_id, part_number) do update
        set etag = excluded.etag, size = excluded.size, lake_part = excluded.lake_part, uploaded_at = now()`;
    return true;
  });
}

export interface PartRow extends StoredPart {
  uploadedAt: Date;
}

/** Parts after `afterPart`, by number, at most `limit`. */
export async function listParts(db: Db, uploadId: string, afterPart: number, limit: number): Promise<{ parts: PartRow[]; more: boolean }> {
  const rows = await db.$client<PartRow[]>`
    select part_number as "partNumber", etag, size::float8 as size, lake_part as "lakePart", uploaded_at as "uploadedAt"
    from multipart_parts where upload_id = ${uploadId} and part_number > ${afterPart}
    order by part_number limit ${limit + 1}`;
  return { parts: rows.slice(0, limit).map((r) => ({ ...r, uploadedAt: new Date(r.uploadedAt) })), more: rows.length > limit };
}

/**
 * Uploads of a bucket in progress, in S3's order (key, then oldest first),
 * under `prefix`, after the marker (`keyMarker` alone: keys after it; with
 * `uploadIdMarker`: that key's uploads after that one too).
 */
export async function listUploads(
  db: Db,
  bucketId: string,
  o: { prefix: string; keyMarker: string | null; uploadIdMarker: string | null; limit: number },
): Promise<{ uploads: MultipartUpload[]; more: boolean }> {
  const sql = db.$client;
  const after =
    o.keyMarker === null
      ? sql`true`
      : o.uploadIdMarker === null
        ? sql`key > ${o.keyMarker}`
        : sql`(key > ${o.keyMarker} or (key = ${o.keyMarker} and seq > (select seq from multipart_uploads where id = ${o.uploadIdMarker})))`;
  const rows = await sql<MultipartUpload[]>`
    select ${sql.unsafe(UPLOAD_COLUMNS)} from multipart_uploads
    where bucket_id = ${bucketId} and state <> 'completed' and starts_with(key, ${o.prefix}) and ${after}
    order by key, seq limit ${o.limit + 1}`;
  return { uploads: rows.slice(0, o.limit).map(withDate), more: rows.length > o.limit };
}

export type CompleteClaim =
  /** This Complete joins the parts: `finishComplete` or `releaseComplete` follows (`reclaimed`: a dead Complete's claim was taken over). */
  | { kind: 'claimed'; upload: MultipartUpload; parts: StoredPart[]; reclaimed: boolean }
  /** An earlier Complete of this upload succeeded: its answer again (a retry after a lost response). */
  | { kind: 'completed'; upload: MultipartUpload; etag: string }
  /** Another Complete of it is running (its claim is within the lease). */
  | { kind: 'busy' }
  | { kind: 'gone' };

/** Moves an open upload (or one whose Complete's claim outlived the lease) to `completing` and reads its parts, under one row lock. */
export async function claimForComplete(db: Db, bucketId: string, key: string, uploadId: string): Promise<CompleteClaim> {
  return db.$client.begin(async (tx): Promise<CompleteClaim> => {
    const [row] = await tx<(MultipartUpload & { fresh: boolean })[]>`
      select ${tx.unsafe(UPLOAD_COLUMNS)}, coalesce(claimed_at > now() - ${COMPLETE_LEASE_MS} * interval '1 millisecond', false) as fresh
      from multipart_uploads
      where id = ${uploadId} and bucket_id = ${bucketId} and key = ${key} for update`;
    if (!row) return { kind: 'gone' };
    const { fresh, ...rest } = row;
    const upload = withDate(rest);
    if (upload.state === 'completed') return { kind: 'completed', upload, etag: upload.completedEtag! };
    if (upload.state === 'completing' && fresh) return { kind: 'busy' };
    const [claimed] = await tx<{ claimedAt: Date }[]>`
      update multipart_uploads set state = 'completing', claimed_at = now() where id = ${uploadId} returning claimed_at as "claimedAt"`;
    const parts = await tx<StoredPart[]>`
      select part_number as "partNumber", etag, size::float8 as size, lake_part as "lakePart"
      from multipart_parts where upload_id = ${uploadId} order by part_number`;
    return {
      kind: 'claimed',
      upload: { ...upload, state: 'completing', claimedAt: new Date(claimed!.claimedAt) },
      parts,
      reclaimed: upload.state === 'completing',
    };
  });
}

/** Keeps a running Complete's claim fresh (see COMPLETE_LEASE_MS). */
export async function renewClaim(db: Db, uploadId: string): Promise<void> {
  await db.$client`update multipart_uploads set claimed_at = now() where id = ${uploadId} and state = 'completing'`;
}

/** The object is in the lake: the upload answers `etag` to a retried Complete until the clean-up removes it. Its parts are gone. */
export async function finishComplete(db: Db, uploadId: string, etag: string): Promise<void> {
  await db.$client.begin(async (tx) => {
    await tx`update multipart_uploads set state = 'completed', completed_etag = ${etag} where id = ${uploadId} and state = 'completing'`;
    await tx`delete from multipart_parts where upload_id = ${uploadId}`;
  });
}

/** The Complete did not happen (refused parts, a lake error): the upload is open again for parts, Complete or Abort. */
export async function releaseComplete(db: Db, uploadId: string): Promise<void> {
  await db.$client`update multipart_uploads set state = 'open', claimed_at = null where id = ${uploadId} and state = 'completing'`;
}

/**
 * Deletes an open upload (its parts cascade) and answers it, for the caller
 * to remove its parts from the lake; null when there is none open (never
 * was, aborted, or being or already completed).
 */
export async function abortUpload(db: Db, bucketId: string, key: string, uploadId: string): Promise<MultipartUpload | null> {
  const sql = db.$client;
  const [row] = await sql<MultipartUpload[]>`
    delete from multipart_uploads where id = ${uploadId} and bucket_id = ${bucketId} and key = ${key} and state = 'open'
    returning ${sql.unsafe(UPLOAD_COLUMNS)}`;
  return row ? withDate(row) : null;
}

/** Where the clean-up reports an upload it could not remove this pass. */
export interface SweepLog {
  warn(obj: object, msg: string): void;
}

/**
 * Removes uploads `which` picks, a batch at a time under `skip locked`, so two callers at once share the work
 * and a crash halfway leaves rows to remove again (removing lake parts twice is no error). Each row on its own:
 * a `completed` one only loses its row; an open one, or a `completing` one whose claim outlived the lease, is
 * aborted in the lake first (the lake saying it is already gone is as good). One whose lake abort fails is
 * logged and left for a later pass without holding up the others; `completing` uploads within their lease are
 * a Complete at work and are left alone. How many it removed, and how many it could not.
 */
async function removeUploads(
  db: Db,
  lake: LakeStore,
  which: (tx: postgres.TransactionSql) => postgres.PendingQuery<postgres.Row[]>,
  batch: number,
  log?: SweepLog,
): Promise<{ removed: number; failed: number }> {
  let removed = 0;
  const failed: string[] = [];
  for (;;) {
    const seen = await db.$client.begin(async (tx) => {
      const rows = await tx<{ id: string; key: string; bucket: string; lakeHandle: string; state: UploadState }[]>`
        select u.id, u.key, b.name as bucket, u.lake_handle as "lakeHandle", u.state
        from multipart_uploads u join buckets b on b.id = u.bucket_id
        where ${which(tx)}
          and not (u.state = 'completing' and coalesce(u.claimed_at > now() - ${COMPLETE_LEASE_MS} * interval '1 millisecond', false))
          and u.id <> all(${failed}::text[])
        order by u.created_at limit ${batch}
        for update of u skip locked`;
      const gone: string[] = [];
      for (const r of rows) {
        if (r.state !== 'completed') {
          try {
            await lake.abortMultipart(r.bucket, r.key, r.lakeHandle);
          } catch (err) {
            if (!(err instanceof MultipartUploadGone)) {
              failed.push(r.id);
              log?.warn({ err, uploadId: r.id, bucket: r.bucket, key: r.key }, 'a multipart upload could not be aborted in the lake; left for a later pass');
              continue;
            }
          }
        }
        gone.push(r.id);
      }
      if (gone.length > 0) await tx`delete from multipart_uploads where id in ${tx(gone)}`;
      removed += gone.length;
      return rows.length;
    });
    if (seen < batch) return { removed, failed: failed.length };
  }
}

/**
 * Aborts uploads older than `maxAgeMs` (by the database's clock), as S3's
 * lifecycle rule for incomplete uploads does, and forgets completed ones as
 * old. Workers sweeping at once share the work. How many it removed.
 */
export async function removeAbandonedUploads(db: Db, lake: LakeStore, maxAgeMs: number, batch = 100, log?: SweepLog): Promise<number> {
  const { removed } = await removeUploads(db, lake, (tx) => tx`u.created_at < now() - ${maxAgeMs} * interval '1 millisecond'`, batch, log);
  return removed;
}

/**
 * Aborts every upload of a bucket about to be deleted: its rows would go by
 * cascade, leaving parts in the lake nobody could name any more. Fails when
 * one could not be aborted, so the bucket stays until it can.
 */
export async function removeBucketUploads(db: Db, lake: LakeStore, bucketId: string, log?: SweepLog): Promise<number> {
  const { removed, failed } = await removeUploads(db, lake, (tx) => tx`u.bucket_id = ${bucketId}`, 100, log);
  if (failed > 0) throw new Error(`${failed} multipart upload(s) of the bucket could not be aborted in the lake`);
  return removed;
}
