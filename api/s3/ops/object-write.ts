// PutObject and DeleteObject. Every write and delete goes through the bucket's push source, exactly as the
// bearer byte plane's do (catalog row, coalesced controller wake-up, pipelines, counters).
import type { IncomingHttpHeaders } from 'node:http';
import { quoted, writeConditionFails } from '../../object-conditions.js';
import { s3Head } from '../object-head.js';
import { metadataFromHeaders, metadataToCatalog } from '../../object-metadata.js';
import { recordArrival, recordRemoval } from '../../push-source.js';
import type { ObjectMetadata, PutResult } from '../../../lake/types.js';
import { requestBucket, type BucketRow } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { s3ExistingKey, s3ObjectKey } from '../keys.js';

/** S3's largest single PUT. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

/** The headers with `aws-chunked` taken out of Content-Encoding: it describes the request's framing, not the object. */
export function objectHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const encoding = headers['content-encoding'];
  if (typeof encoding !== 'string') return headers;
  const rest = encoding
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked');
  const { 'content-encoding': _dropped, ...others } = headers;
  return rest.length > 0 ? { ...others, 'content-encoding': rest.join(',') } : others;
}

/** The S3 ETag of a write: the lake's own where it keeps S3's, else the recorded multipart ETag or the content's MD5. */
export function s3EtagOf(ctx: S3Context, put: PutResult & { s3Etag?: string }): string {
  if (ctx.deps.lake.keepsMetadata) return put.etag;
  return put.s3Etag ?? (put.contentHash?.startsWith('md5:') ? put.contentHash.slice(4) : put.etag);
}

/** If-Match / If-None-Match on a write: S3's conditional writes, against the ETag S3 clients hold (the S3 ETag). */
export async function checkWriteConditions(ctx: S3Context, bucket: BucketRow, key: string): Promise<void> {
  const ifNoneMatch = ctx.req.headers['if-none-match'];
  if (!ifNoneMatch && !ctx.req.headers['if-match']) return;
  if (ifNoneMatch && ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'If-None-Match on a write takes only *');
  const found = await ctx.deps.lake.head(bucket.name, key);
  const failed = writeConditionFails(ctx.req.headers, found && (await s3Head(ctx.deps, bucket.id, key, found)));
  if (failed)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: failed === 'if-match' ? 'If-Match' : 'If-None-Match',
    });
}

/** The stored metadata a write gives, as S3's InvalidArgument when a header is refused. */
export function writeMetadata(headers: IncomingHttpHeaders): ObjectMetadata {
  try {
    return metadataFromHeaders(objectHeaders(headers));
  } catch (err) {
    const detail = (err as { details?: { field: string; problem: string }[] }).details?.[0];
    if (detail) throw S3Error.invalidArgument(detail.field, `${detail.field} ${detail.problem}`);
    throw err;
  }
}

/** A write into the lake recorded as an arrival of the bucket's push source; answers the S3 ETag. */
export async function storeArrival(
  ctx: S3Context,
  bucket: BucketRow,
  key: string,
  put: PutResult & { s3Etag?: string },
  metadata: ObjectMetadata,
): Promise<string> {
  const etag = s3EtagOf(ctx, put);
  const catalogMetadata = metadataToCatalog(ctx.deps, metadata);
  await recordArrival(
    ctx.deps,
    bucket,
    key,
    put,
    catalogMetadata && put.s3Etag ? { ...catalogMetadata, etag: put.s3Etag } : catalogMetadata,
    ctx.named?.pushSource,
  );
  return etag;
}

export async function putObject(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const bucket = await requestBucket(ctx, 'write');
  const metadata = writeMetadata(ctx.req.headers);
  const size = ctx.bodyLength;
  if (size === undefined) throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  if (size > MAX_PUT_BYTES)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(size),
      MaxSizeAllowed: String(MAX_PUT_BYTES),
    });
  await checkWriteConditions(ctx, bucket, key);
  // The lake checks the declared digests with the MD5 it computes for the ETag, or has its store check them.
  const { body, digests } = ctx.bodyForLake();
  const put = await ctx.deps.lake.put(bucket.name, key, body, { ...metadata, size, digests });
  const etag = await storeArrival(ctx, bucket, key, put, metadata);
  ctx.res.setHeader('ETag', quoted(etag));
  ctx.res.status(200).end();
}

export async function deleteObject(ctx: S3Context): Promise<void> {
  const bucket = await requestBucket(ctx, 'write');
  const key = s3ExistingKey(ctx);
  if (key !== null) {
    await ctx.deps.lake.delete(bucket.name, key);
    await recordRemoval(ctx.deps, bucket, key);
  }
  ctx.res.status(204).end();
}
