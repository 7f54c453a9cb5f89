// CopyObject: a PUT naming x-amz-copy-source. Server-side when the lake is S3; the copy is an arrival of the
// destination bucket's push source like any write.
import { conditionalRead, quoted } from '../../object-conditions.js';
import type { ObjectMetadata } from '../../../lake/types.js';
import { lakeKeyProblem } from '../../../lake/keys.js';
import { requestBucket } from '../access.js';
import { decodePathPart } from '../addressing.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { s3ObjectKey } from '../keys.js';
import { s3Head } from '../object-head.js';
import { sendXml } from '../xml.js';
import { checkWriteConditions, storeArrival, writeMetadata } from './object-write.js';

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, the key URL-encoded. */
export function copySource(header: string): { bucket: string; key: string } {
  const [path, query] = header.split('?', 2) as [string, string | undefined];
  if (query !== undefined && !/^versionId=null$/.test(query)) throw S3Error.notImplemented('copying a version (lakesync keeps no versions)');
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  const slash = trimmed.indexOf('/');
  if (slash <= 0 || slash === trimmed.length - 1)
    throw S3Error.invalidArgument('x-amz-copy-source', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', header);
  const key = decodePathPart(trimmed.slice(slash + 1));
  if (lakeKeyProblem(key)) throw S3Error.noSuchKey(key);
  return { bucket: decodePathPart(trimmed.slice(0, slash)), key };
}

/** x-amz-copy-source-if-*: S3 answers PreconditionFailed when any fails (an If-None-Match match included). */
export function sourceConditions(ctx: S3Context, head: { etag: string; lastModified: Date }): void {
  const h = ctx.req.headers;
  const headers = {
    'if-match': h['x-amz-copy-source-if-match'],
    'if-none-match': h['x-amz-copy-source-if-none-match'],
    'if-modified-since': h['x-amz-copy-source-if-modified-since'],
    'if-unmodified-since': h['x-amz-copy-source-if-unmodified-since'],
  } as Record<string, string | undefined>;
  if (conditionalRead({ headers }, head) !== null)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'x-amz-copy-source-If' });
}

export async function copyObject(ctx: S3Context): Promise<void> {
  const key = s3ObjectKey(ctx);
  const header = String(ctx.req.headers['x-amz-copy-source']);
  const from = copySource(header);
  // The source is read with the caller's reach: another organisation's bucket is NoSuchBucket.
  const sourceBucket = await requestBucket({ ...ctx, bucket: from.bucket }, 'read');
  const bucket = await requestBucket(ctx, 'write');
  const found = await ctx.deps.lake.head(sourceBucket.name, from.key);
  if (!found) throw S3Error.noSuchKey(from.key);
  const source = await s3Head(ctx.deps, sourceBucket.id, from.key, found);
  sourceConditions(ctx, source);
  const directive = (ctx.req.headers['x-amz-metadata-directive'] as string | undefined)?.toUpperCase() ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') throw S3Error.invalidArgument('x-amz-metadata-directive', 'Unknown metadata directive.', directive);
  if (directive === 'COPY' && sourceBucket.id === bucket.id && from.key === key) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const { etag: _etag, ...sourceMeta } = source;
  const metadata: ObjectMetadata =
    directive === 'REPLACE'
      ? writeMetadata(ctx.req.headers)
      : {
          contentType: sourceMeta.contentType,
          cacheControl: sourceMeta.cacheControl,
          contentDisposition: sourceMeta.contentDisposition,
          contentEncoding: sourceMeta.contentEncoding,
          contentLanguage: sourceMeta.contentLanguage,
          expires: sourceMeta.expires,
          user: sourceMeta.user,
        };
  await checkWriteConditions(ctx, bucket, key);
  const put = await ctx.deps.lake.copyWithin({ bucket: sourceBucket.name, key: from.key }, { bucket: bucket.name, key }, metadata);
  if (!put) throw S3Error.noSuchKey(from.key);
  const etag = await storeArrival(ctx, bucket, key, put, metadata);
  const stored = await ctx.deps.lake.head(bucket.name, key);
  sendXml(ctx.res, 200, 'CopyObjectResult', { LastModified: stored?.lastModified ?? new Date(), ETag: quoted(etag) });
}
