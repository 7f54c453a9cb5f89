// S3 multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts, ListMultipartUploads.
// Parts go to the lake as they arrive (lake/types.ts LakeMultipart); which stored part counts, and the upload's
// life, is api/s3/multipart-state.ts's. A completed upload is ingested exactly as a PutObject is.
import { Readable } from 'node:stream';
import { MAX_PART_NUMBER, MAX_PART_SIZE, MIN_PART_NUMBER, MIN_PART_SIZE, MultipartPartInvalid, MultipartUploadGone } from '../../../lake/multipart.js';
import type { StoredPart } from '../../../lake/types.js';
import { quoted } from '../../object-conditions.js';
import { requestBucket, type BucketRow } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { s3ObjectKey } from '../keys.js';
import { s3Head } from '../object-head.js';
import {
  abortUpload,
  claimForComplete,
  createUpload,
  findUpload,
  finishComplete,
  listParts,
  listUploads,
  recordPart,
  releaseComplete,
  renewClaim,
  COMPLETE_LEASE_MS,
  type MultipartUpload,
} from '../multipart-state.js';
import { backOff } from 'exponential-backoff';
import { parseXml, readCapped, sendXml } from '../xml.js';
import { copySource, sourceConditions } from './copy.js';
import { checkWriteConditions, s3EtagOf, storeArrival, writeMetadata } from './object-write.js';

/** S3's largest object. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 4;
/** A CompleteMultipartUpload body of 10,000 parts with long ETags and checksums stays well under this. */
const MAX_COMPLETE_BODY = 4 * 1024 ** 2;
const MAX_LISTED = 1000;

const noSuchUpload = () =>
  new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
/** S3's InvalidPart, naming the part when it is known (the lake's own refusal does not say which). */
const invalidPart = (n?: number) =>
  new S3Error(
    'InvalidPart',
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    n === undefined ? undefined : { PartNumber: String(n) },
  );

/** Who started an upload, as S3's listings name the initiator and owner. */
const principal = (upload: Pick<MultipartUpload, 'accessKeyId' | 'orgId'>) => ({ ID: upload.accessKeyId ?? upload.orgId, DisplayName: upload.orgId });

function partNumberOf(ctx: S3Context): number {
  const raw = ctx.query.get('partNumber') ?? '';
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= MIN_PART_NUMBER && n <= MAX_PART_NUMBER))
    throw S3Error.invalidArgument('partNumber', `Part number must be an integer between ${MIN_PART_NUMBER} and ${MAX_PART_NUMBER}, inclusive`, raw);
  return n;
}

/** A non-negative integer query parameter (max-parts, part-number-marker…), or `fallback` when absent. */
function countParam(ctx: S3Context, name: string, fallback: number): number {
  const raw = ctx.query.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,10}$/.test(raw)) throw S3Error.invalidArgument(name, `Provided ${name} not an integer or within integer range`, raw);
  return Number(raw);
}

/** The upload the request names, open for parts; NoSuchUpload for any other (or one of another key). */
async function openUpload(ctx: S3Context, bucket: BucketRow, key: string): Promise<MultipartUpload> {
  const upload = await findUpload(ctx.deps.db, bucket.id, key, ctx.query.get('uploadId') ?? '');
  if (!upload || upload.state !== 'open') throw noSuchUpload();
  return upload;
}

/** Records a part the lake stored; NoSuchUpload when the upload was aborted or completed meanwhile (the stored part goes with it). */
async function keepPart(ctx: S3Context, upload: MultipartUpload, store: () => Promise<StoredPart | null>): Promise<StoredPart | null> {
  let stored: StoredPart | null;
  try {
    stored = await store();
  } catch (err) {
    throw err instanceof MultipartUploadGone ? noSuchUpload() : err;
  }
  if (stored && !(await recordPart(ctx.deps.db, upload.id, stored))) throw noSuchUpload();
  return stored;
}

export async function createMultipartUpload(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const bucket = await requestBucket(ctx, 'write');
  const metadata = writeMetadata(ctx.req.headers);
  const handle = await ctx.deps.lake.createMultipart(bucket.name, key, metadata);
  let upload: MultipartUpload;
  try {
    upload = await createUpload(ctx.deps.db, {
      bucketId: bucket.id,
      key,
      orgId: ctx.caller.org,
      accessKeyId: ctx.caller.accessKeyId,
      metadata,
      lakeHandle: handle,
    });
  } catch (err) {
    await ctx.deps.lake.abortMultipart(bucket.name, key, handle).catch(() => undefined);
    throw err;
  }
  sendXml(ctx.res, 200, 'InitiateMultipartUploadResult', { Bucket: bucket.name, Key: key, UploadId: upload.id });
}

export async function uploadPart(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const partNumber = partNumberOf(ctx);
  const bucket = await requestBucket(ctx, 'write');
  const upload = await openUpload(ctx, bucket, key);
  const size = ctx.bodyLength;
  if (size === undefined) throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  if (size > MAX_PART_SIZE)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(size),
      MaxSizeAllowed: String(MAX_PART_SIZE),
    });
  // As PutObject: the lake checks the part's declared digests.
  const stored = await keepPart(ctx, upload, () => {
    const { body, digests } = ctx.bodyForLake();
    return ctx.deps.lake.uploadPart(bucket.name, key, upload.lakeHandle, partNumber, body, size, digests);
  });
  ctx.res.setHeader('ETag', quoted(stored!.etag));
  ctx.res.status(200).end();
}

/** `x-amz-copy-source-range: bytes=first-last` within the source, or the whole source. */
function copyRangeOf(ctx: S3Context, size: number): { start: number; end: number } {
  const raw = ctx.req.headers['x-amz-copy-source-range'];
  if (raw === undefined) return { start: 0, end: size - 1 };
  const m = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(String(raw).trim());
  const [start, end] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(start <= end && end < size))
    throw S3Error.invalidArgument('x-amz-copy-source-range', `Range specified is not valid for source object of size: ${size}`, String(raw));
  return { start, end };
}

export async function uploadPartCopy(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const partNumber = partNumberOf(ctx);
  const source = copySource(String(ctx.req.headers['x-amz-copy-source']));
  // The source is read with the caller's reach, as CopyObject reads it: another organisation's bucket is NoSuchBucket.
  const from = await requestBucket({ ...ctx, bucket: source.bucket }, 'read');
  const bucket = await requestBucket(ctx, 'write');
  const upload = await openUpload(ctx, bucket, key);
  const head = await ctx.deps.lake.head(from.name, source.key);
  if (!head) throw S3Error.noSuchKey(source.key);
  sourceConditions(ctx, await s3Head(ctx.deps, from.id, source.key, head));
  const range = copyRangeOf(ctx, head.size);
  if (range.end - range.start + 1 > MAX_PART_SIZE)
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PART_SIZE}`);
  const lake = ctx.deps.lake;
  const stored = await keepPart(ctx, upload, () =>
    head.size === 0
      ? lake.uploadPart(bucket.name, key, upload.lakeHandle, partNumber, Readable.from([]), 0)
      : lake.uploadPartCopy(bucket.name, key, upload.lakeHandle, partNumber, { bucket: from.name, key: source.key, range }),
  );
  // Gone between the head and the copy.
  if (!stored) throw S3Error.noSuchKey(source.key);
  sendXml(ctx.res, 200, 'CopyPartResult', { LastModified: new Date(), ETag: quoted(stored.etag) });
}

/** The parts a CompleteMultipartUpload body lists, as given. */
function requestedParts(doc: Record<string, unknown>): { partNumber: number; etag: string }[] {
  const malformed = () => new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  const parts = doc.Part;
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PART_NUMBER) throw malformed();
  return parts.map((p: unknown) => {
    const { PartNumber, ETag } = (p ?? {}) as { PartNumber?: unknown; ETag?: unknown };
    if (typeof PartNumber !== 'string' || typeof ETag !== 'string' || !/^\s*\d{1,10}\s*$/.test(PartNumber)) throw malformed();
    const partNumber = Number(PartNumber);
    if (partNumber < MIN_PART_NUMBER || partNumber > MAX_PART_NUMBER)
      throw S3Error.invalidArgument('PartNumber', `Part number must be an integer between ${MIN_PART_NUMBER} and ${MAX_PART_NUMBER}, inclusive`, PartNumber);
    return { partNumber, etag: ETag.trim().replace(/^"|"$/g, '').toLowerCase() };
  });
}

/** The stored parts the request names, in its order: ascending, each stored with that ETag, none but the last under 5 MiB. */
function chosenParts(requested: { partNumber: number; etag: string }[], stored: StoredPart[]): StoredPart[] {
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  if (requested.some((r, i) => i > 0 && r.partNumber <= requested[i - 1]!.partNumber))
    throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
  let total = 0;
  return requested.map((r, i) => {
    const part = byNumber.get(r.partNumber);
    if (!part || part.etag !== r.etag) throw invalidPart(r.partNumber);
    if (i < requested.length - 1 && part.size < MIN_PART_SIZE)
      throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
        ProposedSize: String(part.size),
        MinSizeAllowed: String(MIN_PART_SIZE),
        PartNumber: String(r.partNumber),
        ETag: quoted(part.etag),
      });
    total += part.size;
    if (total > MAX_OBJECT_BYTES)
      throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { MaxSizeAllowed: String(MAX_OBJECT_BYTES) });
    return part;
  });
}

function completeResult(ctx: S3Context, bucket: string, key: string, etag: string): void {
  const location = `${ctx.req.protocol}://${ctx.req.headers.host ?? ''}/${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  sendXml(ctx.res, 200, 'CompleteMultipartUploadResult', { Location: location, Bucket: bucket, Key: key, ETag: quoted(etag) });
}

/**
 * Joins the parts into the object and ingests it as a PutObject would be. A Complete retried after its answer
 * was lost answers the same result (until the clean-up forgets the upload); one arriving while another Complete
 * of the upload runs is told to try again (OperationAborted), unless that one's claim outlived its lease (it
 * died): then this one takes the upload over.
 *
 * Once the lake has joined the object the upload never opens again (the lake's upload is gone: S3 completed
 * it, the directory lake removed its staging): the completion is recorded at once, then the catalog write is
 * tried a few times. If it still fails the answer is InternalError and a retried Complete answers the
 * completed result; the object then sits in the lake uncatalogued until a reconcile of the bucket finds it.
 * The window left: a crash after the lake joined the object and before `finishComplete` — the claim's lease
 * runs out, a retried Complete takes it over and the lake says the upload is gone (NoSuchUpload), with the
 * same uncatalogued object.
 */
export async function completeMultipartUpload(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const bucket = await requestBucket(ctx, 'write');
  const requested = requestedParts(parseXml(await readCapped(ctx.body(), MAX_COMPLETE_BODY), 'CompleteMultipartUpload'));
  const uploadId = ctx.query.get('uploadId') ?? '';
  const claim = await claimForComplete(ctx.deps.db, bucket.id, key, uploadId);
  if (claim.kind === 'gone') throw noSuchUpload();
  if (claim.kind === 'busy')
    throw new S3Error('OperationAborted', 'A conflicting conditional operation is currently in progress against this resource. Try again.');
  if (claim.kind === 'completed') return completeResult(ctx, bucket.name, key, claim.etag);
  const { upload } = claim;
  const db = ctx.deps.db;
  // The claim stays fresh while this Complete works, however long the join takes.
  const renewal = setInterval(
    () => void renewClaim(db, upload.id).catch((err: unknown) => ctx.deps.log.warn({ err, uploadId: upload.id }, 'renewing a Complete claim failed')),
    COMPLETE_LEASE_MS / 3,
  );
  try {
    let put: Awaited<ReturnType<typeof ctx.deps.lake.completeMultipart>>;
    try {
      const parts = chosenParts(requested, claim.parts);
      // S3's conditional writes (If-None-Match: *, If-Match) hold for a Complete as for a PutObject.
      await checkWriteConditions(ctx, bucket, key);
      put = await ctx.deps.lake.completeMultipart(bucket.name, key, upload.lakeHandle, parts).catch((err: unknown) => {
        throw err instanceof MultipartUploadGone ? noSuchUpload() : err instanceof MultipartPartInvalid ? invalidPart() : err;
      });
    } catch (err) {
      await releaseComplete(db, upload.id);
      throw err;
    }
    // The lake's upload is gone now: from here on the upload is completed, whatever the catalog does.
    const etag = s3EtagOf(ctx, put);
    await backOff(() => finishComplete(db, upload.id, etag), { numOfAttempts: 4, startingDelay: 100, timeMultiple: 2 });
    try {
      await backOff(() => storeArrival(ctx, bucket, key, put, upload.metadata), { numOfAttempts: 4, startingDelay: 100, timeMultiple: 2 });
    } catch (err) {
      ctx.deps.log.error(
        { err, requestId: ctx.requestId, uploadId: upload.id, bucket: bucket.name, key },
        'CompleteMultipartUpload: the object is in the lake but its catalog write failed',
      );
      throw new S3Error('InternalError', 'We encountered an internal error. Please try again.');
    }
    completeResult(ctx, bucket.name, key, etag);
  } finally {
    clearInterval(renewal);
  }
}

export async function abortMultipartUpload(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const bucket = await requestBucket(ctx, 'write');
  const upload = await abortUpload(ctx.deps.db, bucket.id, key, ctx.query.get('uploadId') ?? '');
  if (!upload) throw noSuchUpload();
  await ctx.deps.lake.abortMultipart(bucket.name, key, upload.lakeHandle);
  ctx.res.status(204).end();
}

export async function listPartsOp(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const bucket = await requestBucket(ctx, 'read');
  const upload = await findUpload(ctx.deps.db, bucket.id, key, ctx.query.get('uploadId') ?? '');
  if (!upload || upload.state === 'completed') throw noSuchUpload();
  const maxParts = Math.min(countParam(ctx, 'max-parts', MAX_LISTED), MAX_LISTED);
  const marker = countParam(ctx, 'part-number-marker', 0);
  const page = maxParts === 0 ? { parts: [], more: false } : await listParts(ctx.deps.db, upload.id, marker, maxParts);
  sendXml(ctx.res, 200, 'ListPartsResult', {
    Bucket: bucket.name,
    Key: key,
    UploadId: upload.id,
    Initiator: principal(upload),
    Owner: principal(upload),
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: page.parts.at(-1)?.partNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: page.more,
    Part: page.parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.uploadedAt, ETag: quoted(p.etag), Size: p.size })),
  });
}

type UploadEntry = { kind: 'upload'; upload: MultipartUpload } | { kind: 'prefix'; prefix: string };

/**
 * One page of uploads in progress, with `delimiter` rolling keys into common prefixes as ListObjects does:
 * entries (uploads and prefixes) count alike toward `limit`, and a marker that is a common prefix resumes past
 * every key under it. Uploads in progress are few: the rows are read in batches until the page is full.
 */
async function uploadEntries(
  ctx: S3Context,
  bucketId: string,
  o: { prefix: string; delimiter: string | null; keyMarker: string | null; uploadIdMarker: string | null; limit: number },
): Promise<{ entries: UploadEntry[]; more: boolean }> {
  const entries: UploadEntry[] = [];
  const rolled = (key: string): string | null => {
    if (!o.delimiter) return null;
    const at = key.indexOf(o.delimiter, o.prefix.length);
    return at < 0 ? null : key.slice(0, at + o.delimiter.length);
  };
  let skip = o.keyMarker !== null && o.keyMarker.startsWith(o.prefix) && rolled(o.keyMarker) === o.keyMarker ? o.keyMarker : null;
  let after = { keyMarker: o.keyMarker, uploadIdMarker: o.uploadIdMarker };
  for (;;) {
    const batch = await listUploads(ctx.deps.db, bucketId, { prefix: o.prefix, ...after, limit: MAX_LISTED });
    for (const upload of batch.uploads) {
      if (skip !== null && upload.key.startsWith(skip)) continue;
      const common = rolled(upload.key);
      if (entries.length === o.limit) return { entries, more: true };
      if (common === null) entries.push({ kind: 'upload', upload });
      else {
        entries.push({ kind: 'prefix', prefix: common });
        skip = common;
      }
    }
    const last = batch.uploads.at(-1);
    if (!batch.more || !last) return { entries, more: false };
    after = { keyMarker: last.key, uploadIdMarker: last.id };
  }
}

export async function listMultipartUploads(ctx: S3Context): Promise<void> {
  const bucket = await requestBucket(ctx, 'read');
  const encoding = ctx.query.get('encoding-type');
  if (encoding !== undefined && encoding !== 'url') throw S3Error.invalidArgument('encoding-type', 'Invalid Encoding Method specified in Request', encoding);
  // S3 encodes as a form would, keeping `/`.
  const e = (s: string) => (encoding === 'url' ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') || null;
  const keyMarker = ctx.query.get('key-marker') || null;
  const uploadIdMarker = (keyMarker && ctx.query.get('upload-id-marker')) || null;
  const maxUploads = Math.min(countParam(ctx, 'max-uploads', MAX_LISTED), MAX_LISTED);
  const page =
    maxUploads === 0 ? { entries: [], more: false } : await uploadEntries(ctx, bucket.id, { prefix, delimiter, keyMarker, uploadIdMarker, limit: maxUploads });
  const last = page.entries.at(-1);
  const uploads = page.entries.flatMap((x) => (x.kind === 'upload' ? [x.upload] : []));
  sendXml(ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: bucket.name,
    KeyMarker: e(keyMarker ?? ''),
    UploadIdMarker: uploadIdMarker ?? '',
    NextKeyMarker: page.more && last ? e(last.kind === 'upload' ? last.upload.key : last.prefix) : undefined,
    NextUploadIdMarker: page.more && last?.kind === 'upload' ? last.upload.id : undefined,
    Delimiter: delimiter === null ? undefined : e(delimiter),
    EncodingType: encoding === 'url' ? 'url' : undefined,
    MaxUploads: maxUploads,
    IsTruncated: page.more,
    Prefix: e(prefix),
    Upload: uploads.map((u) => ({
      Key: e(u.key),
      UploadId: u.id,
      Initiator: principal(u),
      Owner: principal(u),
      StorageClass: 'STANDARD',
      Initiated: u.createdAt,
    })),
    CommonPrefixes: page.entries.flatMap((x) => (x.kind === 'prefix' ? [{ Prefix: e(x.prefix) }] : [])),
  });
}
