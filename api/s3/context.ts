// What an S3 operation's handler is given: the verified caller, the bucket and key the request names, and
// the request's body as the verified payload stream.
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import type { ApiDeps } from '../deps.js';
import type { ActiveKey } from '../service-keys.js';
import type { NamedBucket } from './caller.js';
import type { BodyDigests } from '../../lake/hashing.js';

export interface S3Context {
  deps: ApiDeps;
  req: Request;
  res: Response;
  /** The access key the request was signed with (its secret is not carried past verification). */
  caller: Omit<ActiveKey, 'secret'>;
  /** The bucket the request names (path or virtual host), null for the service (ListBuckets). */
  bucket: string | null;
  /** That bucket as looked up with the key (null when the request names none): requestBucket's answer without a query. */
  named: NamedBucket | null;
  /** The object key, decoded; null when the request names no key. */
  key: string | null;
  /** The decoded query parameters (a parameter given twice keeps its first value, as S3 does). */
  query: ReadonlyMap<string, string>;
  /**
   * The request's body, checked while it streams against what was signed (payload hash, chunk
   * signatures, trailing checksum) and against any Content-MD5 / x-amz-checksum-* header: it errors with
   * the S3 code instead of ending when the bytes break them. Read it once.
   */
  body(): Readable;
  /**
   * body() for a lake write that checks the body's declared whole-body digests itself (Content-MD5, a hex
   * x-amz-content-sha256): the stream without those two checks, and the digests to hand the write.
   */
  bodyForLake(): { body: Readable; digests: BodyDigests };
  /** The body's length in bytes as the client declared it (decoded length for aws-chunked); undefined when unknown. */
  bodyLength: number | undefined;
  requestId: string;
  /** The region clients sign for. */
  region: string;
}

export type S3Handler = (ctx: S3Context) => Promise<void>;
