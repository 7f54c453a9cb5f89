// ListObjectsV2 and ListObjects (v1): S3's parameters and XML, over the same paging both planes use.
import { listPrefixProblem } from '../../../lake/keys.js';
import { listObjectPage } from '../../object-listing.js';
import { quoted } from '../../object-conditions.js';
import { requestBucket } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { s3Heads } from '../object-head.js';
import { sendXml, urlEncodeKey } from '../xml.js';

const MAX_KEYS = 1000;

function maxKeysOf(ctx: S3Context): number {
  const raw = ctx.query.get('max-keys');
  if (raw === undefined) return MAX_KEYS;
  if (!/^\d{1,10}$/.test(raw)) throw S3Error.invalidArgument('max-keys', 'Provided max-keys not an integer or within integer range', raw);
  return Math.min(Number(raw), MAX_KEYS);
}

function encodingOf(ctx: S3Context): ((s: string) => string) | null {
  const encoding = ctx.query.get('encoding-type');
  if (encoding === undefined) return null;
  if (encoding !== 'url') throw S3Error.invalidArgument('encoding-type', 'Invalid Encoding Method specified in Request', encoding);
  return urlEncodeKey;
}

/** The listing request's common parameters and one page of answers. */
async function listing(ctx: S3Context, resume: string | null) {
  const bucket = await requestBucket(ctx, 'read');
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') || undefined;
  const maxKeys = maxKeysOf(ctx);
  // A prefix no key can have (`..`, `//`) lists nothing, as S3 lists nothing under it.
  const impossible = listPrefixProblem(prefix) !== null;
  const page =
    maxKeys === 0 || impossible
      ? { objects: [], commonPrefixes: [], truncated: false, last: null }
      : await listObjectPage(ctx.deps.lake, bucket.name, { prefix, delimiter, resume, maxKeys });
  const objects = await s3Heads(ctx.deps, bucket.id, page.objects);
  const enc = encodingOf(ctx);
  const e = (s: string) => (enc ? enc(s) : s);
  const common = {
    Name: bucket.name,
    Prefix: e(prefix),
    Delimiter: delimiter === undefined ? undefined : e(delimiter),
    MaxKeys: maxKeys,
    EncodingType: enc ? 'url' : undefined,
    IsTruncated: page.truncated,
  };
  const contents = objects.map((o) => ({ Key: e(o.key), LastModified: o.lastModified, ETag: quoted(o.etag), Size: o.size, StorageClass: 'STANDARD' }));
  const prefixes = page.commonPrefixes.map((p) => ({ Prefix: e(p) }));
  return { page, common, contents, prefixes, e };
}

/** V2's continuation token: the last key or prefix of the page, opaque to clients (base64url). */
const tokenOf = (last: string) => Buffer.from(last, 'utf8').toString('base64url');
function resumeOf(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || tokenOf(decoded) !== token) throw S3Error.invalidArgument('continuation-token', 'The continuation token provided is incorrect', token);
  return decoded;
}

export async function listObjectsV2(ctx: S3Context): Promise<void> {
  const token = ctx.query.get('continuation-token');
  const startAfter = ctx.query.get('start-after');
  const resume = token !== undefined ? resumeOf(token) : startAfter || null;
  const { page, common, contents, prefixes, e } = await listing(ctx, resume);
  const owner = ctx.query.get('fetch-owner') === 'true' ? { ID: ctx.caller.org, DisplayName: ctx.caller.org } : undefined;
  sendXml(ctx.res, 200, 'ListBucketResult', {
    ...common,
    KeyCount: contents.length + prefixes.length,
    ContinuationToken: token,
    NextContinuationToken: page.truncated && page.last !== null ? tokenOf(page.last) : undefined,
    StartAfter: startAfter === undefined ? undefined : e(startAfter),
    Contents: owner ? contents.map((c) => ({ ...c, Owner: owner })) : contents,
    CommonPrefixes: prefixes,
  });
}

export async function listObjectsV1(ctx: S3Context): Promise<void> {
  const marker = ctx.query.get('marker') ?? '';
  const { page, common, contents, prefixes, e } = await listing(ctx, marker || null);
  const owner = { ID: ctx.caller.org, DisplayName: ctx.caller.org };
  sendXml(ctx.res, 200, 'ListBucketResult', {
    ...common,
    Marker: e(marker),
    // S3 gives NextMarker only with a delimiter; without one clients resume from the last key.
    NextMarker:
      page.truncated && common.Delimiter !== undefined && page.last !== null
        ? common.EncodingType
          ? encodeURIComponent(page.last).replace(/%2F/g, '/')
          : page.last
        : undefined,
    Contents: contents.map((c) => ({ ...c, Owner: owner })),
    CommonPrefixes: prefixes,
  });
}
