import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomUUID } from 'node:crypto';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadDigestError, contentHashFromEtag, DigestCheck, HashingStream, type BodyDigests } from './hashing.js';
import type { S3Copier } from './s3-copier.js';
import { compareKeys, lakeKeyProblem, unstorableKey } from './keys.js';
import { ExactLength, multipartEtag, MultipartPartInvalid, MultipartUploadGone } from './multipart.js';
import type { DelimitedEntry, LakeObjectHead, LakeStore, ObjectMetadata, PutResult, S3Location, StoredPart } from './types.js';

/** User metadata naming the write that stored an object. */
const WRITE_ID = 'lakesync-write';
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART = 512 * 1024 ** 2;
const UPLOAD_PART = 5 * 1024 ** 2;
const MD5_HEX = /^[0-9a-f]{32}$/;

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '');

/** The physical upload is gone: the caller's state is stale. */
function goneOr(err: unknown): unknown {
  return (err as { name?: string }).name === 'NoSuchUpload' ? new MultipartUploadGone() : err;
}

/** A part on its way to the store. */
interface PartWrite {
  bucket: string;
  key: string;
  uploadId: string;
  partNumber: number;
  size: number;
  /** The writer's declared digests, handed to the store on the lean path. */
  digests: BodyDigests | undefined;
}

/** The store refused a digest we handed it (digestHeaders) as the writer's: that is the writer's BadDigest; any other refusal stays what it is. */
function badDigestOr(err: unknown, sent: BodyDigests | undefined): unknown {
  if (err instanceof BadDigestError) return err;
  const name = (err as { name?: string }).name;
  if (name === 'BadDigest' && sent?.md5 !== undefined) return new BadDigestError('md5');
  if (name === 'XAmzContentSHA256Mismatch' && sent?.sha256 !== undefined) return new BadDigestError('sha256');
  return err;
}

/** The headers that hand a write's declared digests to the store, which refuses bytes that break them. */
function digestHeaders(digests: BodyDigests | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (digests?.md5 !== undefined) headers['content-md5'] = Buffer.from(digests.md5, 'hex').toString('base64');
  if (digests?.sha256 !== undefined) headers['x-amz-content-sha256'] = digests.sha256;
  return headers;
}

/** A multipart handle: the write id (fixed at create, with the rest of the metadata) and the physical upload id. */
function splitHandle(handle: string): { writeId: string; uploadId: string } {
  const at = handle.indexOf('/');
  if (at <= 0) throw new Error('not a multipart handle of the S3 lake');
  return { writeId: handle.slice(0, at), uploadId: handle.slice(at + 1) };
}

/** What S3 answers about an object's metadata (HeadObject and GetObject outputs alike), without the write id. */
function metadataOf(res: {
  ContentType?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  ExpiresString?: string;
  Metadata?: Record<string, string>;
}): ObjectMetadata {
  const { [WRITE_ID]: _writeId, ...user } = res.Metadata ?? {};
  return {
    contentType: res.ContentType,
    cacheControl: res.CacheControl,
    contentDisposition: res.ContentDisposition,
    contentEncoding: res.ContentEncoding,
    contentLanguage: res.ContentLanguage,
    expires: res.ExpiresString,
    user,
  };
}

/** An object's head from a GET or HEAD answer's headers (lower-cased): the whole size even for a range, without the write id. */
function headOfHeaders(h: Record<string, string>): LakeObjectHead {
  const user: Record<string, string> = {};
  for (const [name, value] of Object.entries(h)) if (name.startsWith('x-amz-meta-')) user[name.slice('x-amz-meta-'.length)] = value;
  const total = h['content-range'] ? Number(h['content-range'].split('/')[1]) : Number(h['content-length'] ?? 0);
  const meta = metadataOf({
    ContentType: h['content-type'],
    CacheControl: h['cache-control'],
    ContentDisposition: h['content-disposition'],
    ContentEncoding: h['content-encoding'],
    ContentLanguage: h['content-language'],
    ExpiresString: h.expires,
    Metadata: user,
  });
  const lastModified = h['last-modified'] ? new Date(h['last-modified']) : new Date(0);
  return { size: total, etag: (h.etag ?? '').replace(/"/g, ''), lastModified, ...meta };
}

/** Passes chunks on one behind, releasing the last only once the source has ended cleanly. */
function holdLastChunk(): Transform {
  let held: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const previous = held;
      held = chunk;
      done(null, previous ?? undefined);
    },
    flush(done) {
      done(null, held ?? undefined);
    },
  });
}

/** The stored headers of a write, as S3 commands take them, with the write's id among the user metadata. */
function storedHeaders(meta: ObjectMetadata, writeId: string) {
  return {
    ContentType: meta.contentType,
    CacheControl: meta.cacheControl,
    ContentDisposition: meta.contentDisposition,
    ContentEncoding: meta.contentEncoding,
    ContentLanguage: meta.contentLanguage,
    Expires: meta.expires === undefined ? undefined : new Date(meta.expires),
    Metadata: { ...meta.user, [WRITE_ID]: writeId },
  };
}

/** A lake in one S3-compatible bucket; each lakesync bucket is a top-level prefix in it. */
export class S3Lake implements LakeStore {
  readonly keepsMetadata = true;

  constructor(
    private readonly client: S3Client,
    private readonly physicalBucket: string,
    private readonly endpoint: string | undefined,
    /** `credentialIdentity` of the lake's credentials: server-side copies read with them, so only sources reading as the same principal get them. */
    private readonly credentials: string,
    /** The lean CopyObject path for path-style endpoints; the SDK's otherwise. */
    private readonly copier?: S3Copier,
  ) {}

  private key(bucket: string, key: string): string {
    const problem = lakeKeyProblem(key);
    if (problem) throw unstorableKey(key, problem);
    return `${bucket}/${key}`;
  }

  async put(bucket: string, key: string, body: Readable, meta: ObjectMetadata & { size?: number; digests?: BodyDigests }): Promise<PutResult> {
    // The ETag of equal bytes is equal: a nonce in the metadata tells one write from another.
    const writeId = randomUUID();
    // A small body of known length goes as one lean PutObject: the SDK's upload machinery costs more CPU than the bytes.
    if (this.copier && meta.size !== undefined && meta.size <= UPLOAD_PART)
      return this.leanPut(bucket, key, body, meta as ObjectMetadata & { size: number }, writeId);
    // Parts of the upload below are not the body the digests describe: both are checked here, before the upload completes.
    const hasher = new HashingStream(meta.digests?.md5);
    const sha256Here = meta.digests?.sha256 === undefined ? [] : [new DigestCheck('sha256', meta.digests.sha256)];
    // lib-storage streams in bounded parts (queueSize × partSize in memory at most).
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.physicalBucket,
        Key: this.key(bucket, key),
        Body: hasher,
        ...storedHeaders(meta, writeId),
      },
      // 5 MiB parts (S3's minimum) bound memory; bigger objects get bigger parts to stay under 10,000 parts.
      partSize: Math.max(UPLOAD_PART, Math.ceil((meta.size ?? 0) / 9000)),
      queueSize: 2,
      // A failed upload aborts its multipart upload: no incomplete parts stay behind.
      leavePartsOnError: false,
    });
    // pipeline fails the hasher, and so the upload, when the body ends early (an aborted request), errors or breaks a digest.
    const feeding = pipeline([body, ...sha256Here, hasher]);
    const uploading = upload.done().catch((err: unknown) => {
      // S3 refused: stop feeding a hasher nobody reads any more, or the body hangs paused.
      hasher.destroy();
      throw err;
    });
    // Both settle before put does, so no rejection goes unheard and an aborted multipart upload is gone by then.
    const [fed, uploaded] = await Promise.allSettled([feeding, uploading]);
    if (uploaded.status === 'rejected') throw uploaded.reason;
    if (fed.status === 'rejected') throw fed.reason;
    return { etag: (uploaded.value.ETag ?? '').replace(/"/g, ''), size: hasher.bytes, contentHash: hasher.contentHash(), writeId };
  }

  async copyFrom(bucket: string, key: string, from: S3Location, size: number): Promise<PutResult | null> {
    if ((from.endpoint ?? '') !== (this.endpoint ?? '') || from.credentials !== this.credentials) return null;
    const target = this.key(bucket, key);
    const copySource = `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`;
    try {
      if (size <= MAX_SINGLE_COPY && this.copier) {
        const etag = await this.copier.copy(this.physicalBucket, target, from.bucket, from.key);
        return { etag, size, contentHash: contentHashFromEtag(etag) };
      }
      if (size <= MAX_SINGLE_COPY) {
        const res = await this.client.send(new CopyObjectCommand({ Bucket: this.physicalBucket, Key: target, CopySource: copySource }));
        const etag = (res.CopyObjectResult?.ETag ?? '').replace(/"/g, '');
        return { etag, size, contentHash: contentHashFromEtag(etag) };
      }
      return await this.multipartCopy(target, copySource, size);
    } catch (err) {
      const name = (err as { name?: string }).name;
      // The lake's credentials may not read the source bucket: stream instead.
      if (name === 'AccessDenied' || name === 'Forbidden') return null;
      throw err;
    }
  }

  private async multipartCopy(target: string, copySource: string, size: number): Promise<PutResult> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.physicalBucket, Key: target }));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART, n++) {
        const end = Math.min(start + COPY_PART, size) - 1;
        const res = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.physicalBucket,
            Key: target,
            UploadId,
            PartNumber: n,
            CopySource: copySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ ETag: res.CopyPartResult!.ETag!, PartNumber: n });
      }
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.physicalBucket, Key: target, UploadId, MultipartUpload: { Parts: parts } }),
      );
      return { etag: (done.ETag ?? '').replace(/"/g, ''), size, contentHash: null };
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.physicalBucket, Key: target, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  /** The physical bucket's own multipart upload: parts land in the lake as they arrive. */
  async createMultipart(bucket: string, key: string, meta: ObjectMetadata): Promise<string> {
    const writeId = randomUUID();
    const res = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.physicalBucket,
        Key: this.key(bucket, key),
        ...storedHeaders(meta, writeId),
      }),
    );
    return `${writeId}/${res.UploadId!}`;
  }

  async uploadPart(bucket: string, key: string, handle: string, partNumber: number, body: Readable, size: number, digests?: BodyDigests): Promise<StoredPart> {
    const { uploadId } = splitHandle(handle);
    // The part's ETag is its MD5, not the physical one (not an MD5 under some server-side encryptions): the writer's,
    // which the store checks (Content-MD5), else our own.
    const hasher = digests?.md5 === undefined ? new HashingStream() : null;
    // The lean path hands both declared digests to the store; the SDK's signs no declared SHA-256, so it is checked here.
    const sha256Here = !this.copier && digests?.sha256 !== undefined ? [new DigestCheck('sha256', digests.sha256)] : [];
    const held = holdLastChunk();
    // As in leanPut, the last chunk waits for the body's clean end and the checks: a body failing its digest or
    // signature check at the end fails before S3 has every byte, so S3 never stores it over a good part of the same number.
    const checked = pipeline([body, new ExactLength(size), ...sha256Here, ...(hasher ? [hasher] : []), held]);
    const part = { bucket, key, uploadId, partNumber, size, digests };
    const [fed, sent] = await Promise.allSettled(this.copier ? this.leanPart(held, checked, part) : this.sdkPart(held, checked, part));
    // What the store was handed to check: both digests on the lean path, the MD5 alone on the SDK's.
    const handed = this.copier ? digests : digests?.md5 === undefined ? undefined : { md5: digests.md5 };
    // A store that refuses early fails the feed with its own error (held.destroy below), so the feed's error comes first either way.
    if (fed.status === 'rejected') throw badDigestOr(goneOr(fed.reason), handed);
    if (sent.status === 'rejected') throw badDigestOr(goneOr(sent.reason), handed);
    // ExactLength passed exactly `size` bytes.
    return { partNumber, etag: hasher ? hasher.contentHash().slice('md5:'.length) : digests!.md5!, size, lakePart: unquote(sent.value) };
  }

  /** A part's bytes as one signed PUT on the copier's pool: a third less CPU per byte than the SDK's stream. */
  private leanPart(held: Transform, feeding: Promise<void>, p: PartWrite): [Promise<void>, Promise<string>] {
    const sending = this.copier!.put(this.physicalBucket, this.key(p.bucket, p.key), held, p.size, digestHeaders(p.digests), {
      uploadId: p.uploadId,
      partNumber: p.partNumber,
    }).catch((err: unknown) => {
      // S3 refused: stop feeding a stream nobody reads any more (or the body hangs paused), with S3's reason.
      held.destroy(err as Error);
      throw err;
    });
    return [feeding, sending];
  }

  private sdkPart(held: Transform, checked: Promise<void>, p: PartWrite): [Promise<void>, Promise<string>] {
    // The SDK re-emits a body's error on streams nobody listens to (an uncaught exception), and a pipe passes no
    // error on: the SDK gets a stream that only ever ends or closes, and a failed body aborts the request itself.
    const wire = new PassThrough();
    held.pipe(wire);
    const abort = new AbortController();
    const feeding = checked.catch((err: unknown) => {
      abort.abort(err);
      wire.destroy();
      throw err;
    });
    const sending = this.client
      .send(
        new UploadPartCommand({
          Bucket: this.physicalBucket,
          Key: this.key(p.bucket, p.key),
          UploadId: p.uploadId,
          PartNumber: p.partNumber,
          Body: wire,
          ContentLength: p.size,
          ContentMD5: digestHeaders(p.digests)['content-md5'],
        }),
        { abortSignal: abort.signal },
      )
      .then(
        (res) => res.ETag ?? '',
        (err: unknown) => {
          // S3 refused: stop feeding a stream nobody reads any more (or the body hangs paused), with S3's reason.
          held.destroy(err as Error);
          throw err;
        },
      );
    return [feeding, sending];
  }

  /** Server-side; streamed through `uploadPart` only when the copy's ETag is not the range's MD5. */
  async uploadPartCopy(
    bucket: string,
    key: string,
    handle: string,
    partNumber: number,
    from: { bucket: string; key: string; range: { start: number; end: number } },
  ): Promise<StoredPart | null> {
    const { uploadId } = splitHandle(handle);
    const source = this.key(from.bucket, from.key);
    let etag: string;
    try {
      const res = await this.client.send(
        new UploadPartCopyCommand({
          Bucket: this.physicalBucket,
          Key: this.key(bucket, key),
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: `${this.physicalBucket}/${encodeURIComponent(source).replace(/%2F/g, '/')}`,
          CopySourceRange: `bytes=${from.range.start}-${from.range.end}`,
        }),
      );
      etag = unquote(res.CopyPartResult?.ETag);
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw goneOr(err);
    }
    const size = from.range.end - from.range.start + 1;
    if (MD5_HEX.test(etag)) return { partNumber, etag, size, lakePart: etag };
    const got = await this.get(from.bucket, from.key, from.range);
    return got && this.uploadPart(bucket, key, handle, partNumber, got.body, size);
  }

  /** The whole content's MD5 would need the object read again: `contentHash` is null. */
  async completeMultipart(bucket: string, key: string, handle: string, parts: readonly StoredPart[]): Promise<PutResult> {
    const { writeId, uploadId } = splitHandle(handle);
    const res = await this.client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: this.physicalBucket,
          Key: this.key(bucket, key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.lakePart })) },
        }),
      )
      .catch((err: unknown) => {
        const e = err as { name?: string; message?: string };
        return Promise.reject(e.name === 'InvalidPart' ? new MultipartPartInvalid(e.message ?? 'InvalidPart') : goneOr(err));
      });
    return {
      etag: unquote(res.ETag),
      size: parts.reduce((sum, p) => sum + p.size, 0),
      contentHash: null,
      writeId,
      s3Etag: multipartEtag(parts.map((p) => p.etag)),
    };
  }

  async abortMultipart(bucket: string, key: string, handle: string): Promise<void> {
    const { uploadId } = splitHandle(handle);
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.physicalBucket, Key: this.key(bucket, key), UploadId: uploadId }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
    }
  }

  async head(bucket: string, key: string): Promise<LakeObjectHead | null> {
    // On the copier's path a HEAD (a ranged GET's, a conditional write's, a copy's) is one signed request, not the SDK's middleware stack.
    if (this.copier) {
      const h = await this.copier.head(this.physicalBucket, this.key(bucket, key));
      return h && { ...headOfHeaders(h), writeId: h[`x-amz-meta-${WRITE_ID}`] };
    }
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.physicalBucket, Key: this.key(bucket, key) }));
      return {
        size: res.ContentLength ?? 0,
        etag: (res.ETag ?? '').replace(/"/g, ''),
        lastModified: res.LastModified ?? new Date(0),
        ...metadataOf(res),
        writeId: res.Metadata?.[WRITE_ID],
      };
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFound') return null;
      throw err;
    }
  }

  async get(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; head: LakeObjectHead } | null> {
    if (this.copier) return this.leanGet(bucket, key, range);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.physicalBucket, Key: this.key(bucket, key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      const total = res.ContentRange ? Number(res.ContentRange.split('/')[1]) : (res.ContentLength ?? 0);
      return {
        body: res.Body as Readable,
        head: { size: total, etag: (res.ETag ?? '').replace(/"/g, ''), lastModified: res.LastModified ?? new Date(0), ...metadataOf(res) },
      };
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  /** get() on the copier's path: a third less CPU per byte served than the SDK's stream (GET of 256 MiB: ~285 against ~430 ms). */
  private async leanGet(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; head: LakeObjectHead } | null> {
    const res = await this.copier!.get(this.physicalBucket, this.key(bucket, key), range);
    return res && { body: res.body, head: headOfHeaders(res.headers) };
  }

  async list(
    bucket: string,
    prefix: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ objects: (LakeObjectHead & { key: string })[]; more: boolean }> {
    const base = `${bucket}/`;
    const res = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.physicalBucket,
        Prefix: base + prefix,
        StartAfter: afterKey === null ? undefined : base + afterKey,
        MaxKeys: Math.min(limit, 1000),
      }),
    );
    const objects = (res.Contents ?? []).map((o) => ({
      key: o.Key!.slice(base.length),
      size: o.Size ?? 0,
      etag: (o.ETag ?? '').replace(/"/g, ''),
      lastModified: o.LastModified ?? new Date(0),
    }));
    return { objects, more: Boolean(res.IsTruncated) };
  }

  async listDelimited(
    bucket: string,
    prefix: string,
    delimiter: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ entries: DelimitedEntry[]; more: boolean }> {
    const base = `${bucket}/`;
    const res = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.physicalBucket,
        Prefix: base + prefix,
        Delimiter: delimiter,
        StartAfter: afterKey === null ? undefined : base + afterKey,
        MaxKeys: Math.min(limit, 1000),
      }),
    );
    const entries: DelimitedEntry[] = [
      ...(res.Contents ?? []).map((o) => ({
        kind: 'object' as const,
        key: o.Key!.slice(base.length),
        size: o.Size ?? 0,
        etag: (o.ETag ?? '').replace(/"/g, ''),
        lastModified: o.LastModified ?? new Date(0),
      })),
      ...(res.CommonPrefixes ?? []).map((p) => ({ kind: 'prefix' as const, key: p.Prefix!.slice(base.length) })),
    ].sort((a, b) => compareKeys(a.key, b.key));
    return { entries, more: Boolean(res.IsTruncated) };
  }

  /** Incomplete multipart uploads abort themselves (lib-storage) unless the process dies: those are the bucket's lifecycle rule's to expire. */
  async removeStaleTemp(): Promise<number> {
    return 0;
  }

  async move(bucket: string, from: string, to: string): Promise<boolean> {
    const head = await this.head(bucket, from);
    if (!head) return false;
    await this.copyFrom(
      bucket,
      to,
      { endpoint: this.endpoint, bucket: this.physicalBucket, key: this.key(bucket, from), credentials: this.credentials },
      head.size,
    );
    await this.delete(bucket, from);
    return true;
  }

  async delete(bucket: string, key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.physicalBucket, Key: this.key(bucket, key) }));
  }

  async copyWithin(from: { bucket: string; key: string }, to: { bucket: string; key: string }, meta: ObjectMetadata): Promise<PutResult | null> {
    const source = await this.head(from.bucket, from.key);
    if (!source) return null;
    if (source.size > MAX_SINGLE_COPY) {
      // Past one CopyObject's reach: stream it through (multipart, bounded memory) rather than refuse.
      const got = await this.get(from.bucket, from.key);
      return got ? this.put(to.bucket, to.key, got.body, { ...meta, size: got.head.size }) : null;
    }
    const writeId = randomUUID();
    try {
      const res = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.physicalBucket,
          Key: this.key(to.bucket, to.key),
          CopySource: `${this.physicalBucket}/${encodeURIComponent(this.key(from.bucket, from.key)).replace(/%2F/g, '/')}`,
          // The write id is this copy's own, so the metadata is always replaced (with the source's when the caller copies it).
          MetadataDirective: 'REPLACE',
          ...storedHeaders(meta, writeId),
        }),
      );
      const etag = (res.CopyObjectResult?.ETag ?? '').replace(/"/g, '');
      return { etag, size: source.size, contentHash: contentHashFromEtag(etag), writeId };
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  private async leanPut(
    bucket: string,
    key: string,
    body: Readable,
    meta: ObjectMetadata & { size: number; digests?: BodyDigests },
    writeId: string,
  ): Promise<PutResult> {
    // The store checks the writer's declared digests (Content-MD5, x-amz-content-sha256), and the MD5 is the content
    // hash: a write that declares both hashes nothing here.
    const hasher = meta.digests?.md5 === undefined ? new HashingStream() : null;
    const headers: Record<string, string> = digestHeaders(meta.digests);
    const set = (name: string, value: string | undefined) => value !== undefined && (headers[name] = value);
    set('content-type', meta.contentType);
    set('cache-control', meta.cacheControl);
    set('content-disposition', meta.contentDisposition);
    set('content-encoding', meta.contentEncoding);
    set('content-language', meta.contentLanguage);
    set('expires', meta.expires);
    for (const [name, value] of Object.entries({ ...meta.user, [WRITE_ID]: writeId })) headers[`x-amz-meta-${name}`] = value;
    // The body errors or ends short: the hasher fails, so does the request, and S3 stores nothing (a short body is refused by length).
    // The last chunk waits for the body's end and the hasher's check: a body that fails its checks at the end (a digest,
    // a signature) fails before S3 has every byte, so S3 never completes the object.
    const held = holdLastChunk();
    const feeding = hasher ? pipeline(body, hasher, held) : pipeline(body, held);
    const sending = this.copier!.put(this.physicalBucket, this.key(bucket, key), held, meta.size, headers).catch((err: unknown) => {
      held.destroy();
      throw err;
    });
    const [fed, sent] = await Promise.allSettled([feeding, sending]);
    if (sent.status === 'rejected') throw badDigestOr(sent.reason, meta.digests);
    if (fed.status === 'rejected') throw fed.reason;
    // The store took exactly Content-Length bytes (undici refuses a body longer or shorter than the length it was given).
    return { etag: sent.value, size: meta.size, contentHash: hasher ? hasher.contentHash() : `md5:${meta.digests!.md5!}`, writeId };
  }
}
