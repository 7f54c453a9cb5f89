/**
 * An object's metadata at the HTTP edge: read from a PUT's headers (checked as
 * S3 checks them) and answered on GET and HEAD. A lake that keeps metadata
 * (S3) answers it itself; for one that does not (a directory lake) the
 * catalog holds it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Response } from 'express';
import { lakeObjectMetadata } from '../catalog/index.js';
import { textProblem } from '../domain/text.js';
import type { LakeObjectHead, ObjectMetadata } from '../lake/types.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';

const USER_PREFIX = 'x-amz-meta-';
/**
 * S3's 2 KB of user metadata, counted as MinIO counts it (header names with
 * their prefix, and values, in bytes), less what the S3 lake stores for
 * itself (`x-amz-meta-lakesync-write` and a UUID): what fits one lake kind
 * fits the other.
 */
const MAX_USER_BYTES = 2048 - (USER_PREFIX.length + 'lakesync-write'.length + 36);
/** Names the S3 lake uses for itself (lake/s3-lake.ts). */
const RESERVED_USER = new Set(['lakesync-write']);

/** Each stored header, by its field in ObjectMetadata. */
const HEADERS = {
  contentType: 'content-type',
  cacheControl: 'cache-control',
  contentDisposition: 'content-disposition',
  contentEncoding: 'content-encoding',
  contentLanguage: 'content-language',
  expires: 'expires',
} as const satisfies Record<Exclude<keyof ObjectMetadata, 'user' | 'etag'>, string>;

/**
 * A stored header's value: text without control characters (domain/text.ts,
 * read as the UTF-8 the bytes carry), and ASCII, as S3 clients send metadata
 * (RFC 2047 for other text in x-amz-meta-*, RFC 6266's filename* in
 * Content-Disposition): Node's HTTP client, and so the S3 lake, cannot pass
 * other bytes through unchanged.
 */
function checked(header: string, raw: string): string {
  const problem = textProblem(Buffer.from(raw, 'latin1').toString('utf8'));
  if (problem) throw ApiError.invalid(header, problem);
  if (/[^\x20-\x7e]/.test(raw))
    throw ApiError.invalid(
      header,
      header === 'content-disposition'
        ? `must be ASCII (name a file with filename*=UTF-8''<percent-encoded name>, RFC 6266)`
        : 'must be ASCII (encode other text as RFC 2047, as S3 clients do)',
    );
  return raw;
}

/** The metadata a PUT gives: 400 naming the header for a control character, an unparsable Expires, or user metadata over 2 KB. */
export function metadataFromHeaders(headers: IncomingHttpHeaders): ObjectMetadata {
  const meta: ObjectMetadata = {};
  for (const [field, header] of Object.entries(HEADERS) as [keyof typeof HEADERS, string][]) {
    const value = headers[header];
    if (typeof value !== 'string') continue;
    const stored = checked(header, value);
    if (field === 'expires') {
      const at = Date.parse(stored);
      if (Number.isNaN(at)) throw ApiError.invalid(header, 'must be an HTTP date');
      meta.expires = new Date(at).toUTCString();
    } else meta[field] = stored;
  }
  // Node lower-cases header names, as S3 does metadata names; repeated headers arrive joined by ", "; values are ASCII, so length is bytes.
  const user: Record<string, string> = {};
  let bytes = 0;
  for (const header of Object.keys(headers).sort()) {
    if (!header.startsWith(USER_PREFIX)) continue;
    const name = header.slice(USER_PREFIX.length);
    const raw = headers[header];
    const value = checked(header, Array.isArray(raw) ? raw.join(',') : (raw ?? ''));
    if (!name) throw ApiError.invalid(header, 'needs a name after x-amz-meta-');
    if (RESERVED_USER.has(name)) throw ApiError.invalid(header, 'is reserved for lakesync');
    bytes += header.length + value.length;
    if (bytes > MAX_USER_BYTES)
      throw ApiError.invalid(header, `takes user metadata (x-amz-meta-* header names and values) over ${MAX_USER_BYTES} bytes, S3's 2 KB less lakesync's own`);
    user[name] = value;
  }
  if (Object.keys(user).length > 0) meta.user = user;
  return meta;
}

/** What the catalog must hold for a write given `meta`: nothing when the lake keeps it itself. */
export const metadataToCatalog = (deps: ApiDeps, meta: ObjectMetadata): ObjectMetadata | null => (deps.lake.keepsMetadata ? null : meta);

/** The object's head with its stored metadata: the lake's own, or what the catalog holds (the key's guess when it holds nothing). */
export async function headWithMetadata(deps: ApiDeps, bucketId: string, head: LakeObjectHead, key: string): Promise<LakeObjectHead> {
  if (deps.lake.keepsMetadata) return head;
  const record = await lakeObjectMetadata(deps.db.$client, bucketId, key);
  if (!record) return head;
  // The S3 ETag it may hold is the S3 endpoint's to answer (api/s3/object-head.ts); this plane answers the lake's.
  const { etag: _s3Etag, ...stored } = record;
  return {
    size: head.size,
    etag: head.etag,
    lastModified: head.lastModified,
    writeId: head.writeId,
    ...stored,
    contentType: stored.contentType ?? head.contentType,
  };
}

/** The stored headers, as GET and HEAD answer them (the content type is the caller's: it has a default). */
export function setMetadataHeaders(res: Response, meta: ObjectMetadata): void {
  for (const [field, header] of Object.entries(HEADERS) as [keyof typeof HEADERS, string][]) {
    const value = meta[field];
    if (field !== 'contentType' && value !== undefined) res.setHeader(header, value);
  }
  for (const [name, value] of Object.entries(meta.user ?? {})) res.setHeader(USER_PREFIX + name, value);
}

/** The stored headers in ObjectInfo: null where none was stored. */
export const metadataJson = (meta: ObjectMetadata) => ({
  cacheControl: meta.cacheControl ?? null,
  contentDisposition: meta.contentDisposition ?? null,
  contentEncoding: meta.contentEncoding ?? null,
  contentLanguage: meta.contentLanguage ?? null,
  expires: meta.expires ?? null,
  userMetadata: meta.user ?? {},
});

/**
 * The headers every object answer carries, on both planes: ETag, Last-Modified, the type (`defaultType` when none
 * is stored), byte ranges, the stored headers; and, since stored bytes and types come from writers and sources, no
 * sniffing them into HTML and no running what a browser renders on the API's origin.
 */
export function setObjectHeaders(res: Response, head: LakeObjectHead, defaultType: string): void {
  res.setHeader('ETag', `"${head.etag}"`);
  res.setHeader('Last-Modified', head.lastModified.toUTCString());
  res.setHeader('Content-Type', head.contentType ?? defaultType);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
  setMetadataHeaders(res, head);
}
