import type { Readable } from 'node:stream';

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
}

export interface LakeStore {
  /**
   * Whether `head` and `get` answer the metadata `put` was given (S3 stores
   * it with the object). When false they answer only a content type guessed
   * from the key, and the catalog holds what `put` was given.
   */
  readonly keepsMetadata: boolean;
  /**
   * Streams `body` into place whole, or not at all: a body that errors or ends
   * early (an aborted request) rejects, leaves no temp file or incomplete
   * multipart upload, and is destroyed.
   */
  put(bucket: string, key: string, body: Readable, meta: ObjectMetadata & { size?: number }): Promise<PutResult>;
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
