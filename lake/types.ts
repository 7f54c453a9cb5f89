import type { Readable } from 'node:stream';
import type { BodyDigests } from './hashing.js';

export interface S3Location {
  endpoint: string | undefined;
  bucket: string;
  key: string;
  /**
   * Who the source reads as (`credentialIdentity`: key id, secret and session
   * token). The lake copies server-side with its own credentials, so only when
   * they are the very same ones (as rclone copies server-side only within one
   * remote): else a tenant whose key may list a bucket but not read it, or who
   * merely knows the lake's key id, would have the lake read it for them.
   */
  credentials: string;
}

/** The headers S3 stores with an object and answers on GET and HEAD. */
export interface ObjectMetadata {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  /** An HTTP date. */
  expires?: string;
  /** `x-amz-meta-*` headers: names lower-cased, without the prefix. */
  user?: Record<string, string>;
  /** The S3 ETag, where the catalog holds it for a lake whose own etag is not one (a directory lake's multipart upload: md5-of-md5s-N). */
  etag?: string;
}

export interface LakeObjectHead extends ObjectMetadata {
  size: number;
  etag: string;
  lastModified: Date;
  /** Which write put this object there, unique per write (two writes of the same bytes differ); where the lake knows it. */
  writeId?: string;
}

export type DelimitedEntry = { kind: 'prefix'; key: string } | ({ kind: 'object'; key: string } & LakeObjectHead);

export interface PutResult {
  etag: string;
  size: number;
  contentHash: string | null;
  /** Which write this was: `head().writeId` answers the same while no later write replaced it. */
  writeId?: string;
  /**
   * The ETag an S3 client expects, where `etag` is not it (the directory
   * lake's `etag` is stat-derived): the content's MD5 hex for a single write,
   * `md5-of-md5s-N` for a multipart one.
   */
  s3Etag?: string;
}

/** One stored part of a multipart upload. */
export interface StoredPart {
  partNumber: number;
  /** The part's MD5 (hex): its S3 ETag. */
  etag: string;
  size: number;
  /** The lake's own handle for this stored part (the physical ETag, a staging file name); opaque to callers. */
  lakePart: string;
}

/**
 * Multipart uploads in the lake: parts are stored as they arrive and joined
 * into one object on complete. `handle` is what `createMultipart` answered,
 * opaque to callers (who keep it with the upload's state).
 */
export interface LakeMultipart {
  /** Starts an upload of `key`; the metadata is the object's once complete. */
  createMultipart(bucket: string, key: string, meta: ObjectMetadata): Promise<string>;
  /**
   * Streams a part of exactly `size` bytes into the lake (a body of another
   * length, or one that errors, rejects and is destroyed). A part stored
   * again under its number is a new stored part: the caller keeps which one
   * counts. Given the writer's declared `digests`, a body with other ones
   * rejects with BadDigestError and stores nothing.
   */
  uploadPart(bucket: string, key: string, handle: string, partNumber: number, body: Readable, size: number, digests?: BodyDigests): Promise<StoredPart>;
  /** A part copied from bytes `range` (inclusive) of a lake object of this lake; null when that object is not there. */
  uploadPartCopy(
    bucket: string,
    key: string,
    handle: string,
    partNumber: number,
    from: { bucket: string; key: string; range: { start: number; end: number } },
  ): Promise<StoredPart | null>;
  /**
   * Joins the parts, in the order given, into the object at `key`, whole or
   * not at all, and removes the upload's leftovers. `s3Etag` is
   * `md5-of-md5s-N`; `contentHash` is null where it would cost a re-read.
   */
  completeMultipart(bucket: string, key: string, handle: string, parts: readonly StoredPart[]): Promise<PutResult>;
  /** Removes every stored part of the upload; an upload already gone is no error. */
  abortMultipart(bucket: string, key: string, handle: string): Promise<void>;
}

export interface LakeStore extends LakeMultipart {
  /**
   * Whether `head` and `get` answer the metadata `put` was given (S3 stores
   * it with the object). When false they answer only a content type guessed
   * from the key, and the catalog holds what `put` was given.
   */
  readonly keepsMetadata: boolean;
  /**
   * Streams `body` into place whole, or not at all: a body that errors or ends
   * early (an aborted request) rejects, leaves no temp file or incomplete
   * multipart upload, and is destroyed. Given the writer's declared
   * `digests` (checked with the MD5 the write computes anyway, or by the
   * store itself), a body with other ones rejects with BadDigestError and
   * stores nothing.
   */
  put(bucket: string, key: string, body: Readable, meta: ObjectMetadata & { size?: number; digests?: BodyDigests }): Promise<PutResult>;
  /** Server-side copy; resolves null when this lake cannot reach the source. */
  copyFrom(bucket: string, key: string, from: S3Location, size: number): Promise<PutResult | null>;
  head(bucket: string, key: string): Promise<LakeObjectHead | null>;
  /** Streams the object, or bytes start..end (inclusive) of it; null when it is not there. */
  get(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; head: LakeObjectHead } | null>;
  delete(bucket: string, key: string): Promise<void>;
  /** Moves an object within the bucket; false when there was nothing to move (already moved). */
  move(bucket: string, from: string, to: string): Promise<boolean>;
  /**
   * S3's delimited listing: the objects directly under `prefix` and the common
   * prefixes (`prefix` + … + `delimiter`) standing for the rest, merged in byte
   * order, strictly after `afterKey`, at most `limit` entries in all; null when
   * this lake cannot do it natively for that delimiter (the caller pages keys).
   */
  listDelimited(
    bucket: string,
    prefix: string,
    delimiter: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ entries: DelimitedEntry[]; more: boolean } | null>;
  /** Removes what writes cut off by a crash left behind (older than `maxAgeMs`); how many it removed. */
  removeStaleTemp(maxAgeMs: number): Promise<number>;
  /**
   * Copies an object within the lake (S3's CopyObject), its stored metadata
   * replaced by `meta`: server-side where the lake can; null when the source
   * is not there.
   */
  copyWithin(from: { bucket: string; key: string }, to: { bucket: string; key: string }, meta: ObjectMetadata): Promise<PutResult | null>;
  /** Keys under `prefix` strictly after `afterKey`, in byte order, at most `limit`. */
  list(bucket: string, prefix: string, afterKey: string | null, limit: number): Promise<{ objects: (LakeObjectHead & { key: string })[]; more: boolean }>;
}
