import { backOff } from 'exponential-backoff';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { S3ResponseError, S3_RETRY, encodePath, encodeSegment, s3ErrorAnswer, xmlValue } from './s3-wire.js';
import { signS3 } from './s3-signer.js';

export interface CopierOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  connections: number;
}

/**
 * Server-side CopyObject on the hot path of a full sync: a signed PUT over a
 * keep-alive pool, a fraction of the CPU the SDK's middleware stack spends per
 * request — and on a small machine the copies are CPU-bound. Single-part
 * uploads, part uploads and reads (the S3 endpoint's PUT, UploadPart and
 * GET) take the same path; multipart copies, the multipart upload's other
 * calls, and listings, stay with the SDK.
 */
export class S3Copier {
  private readonly agent: Agent;
  /** Reads have a pool of their own: a client reading slowly holds its connection, and must not hold up copies. */
  private readonly readAgent: Agent;
  private readonly url: URL;

  constructor(private readonly o: CopierOptions) {
    this.url = new URL(o.endpoint);
    // A store answers CopyObject only once the copy is done, which for gigabytes takes as long as it takes
    // (the SDK sets no timeout either); the batch's heartbeat is what notices a worker that is stuck.
    const pool = () => new Agent({ connections: o.connections, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
    this.agent = pool();
    this.readAgent = pool();
  }

  private sign(method: string, path: string, headers: Record<string, string>): Record<string, string> {
    return signS3(this.o, this.o.region, { method, host: this.url.host, path, headers });
  }

  /** The path-style path of `bucket/key` at the endpoint. */
  private objectPath(bucket: string, key: string): string {
    return `${this.url.pathname.replace(/\/$/, '')}/${encodeSegment(bucket)}/${encodePath(key)}`;
  }

  /** Copies `sourceBucket/sourceKey` to `bucket/key` (path-style); returns the new object's ETag without quotes. */
  async copy(bucket: string, key: string, sourceBucket: string, sourceKey: string): Promise<string> {
    // A network error, a 5xx, a throttling or timeout code may pass on another try.
    return backOff(() => this.once(this.objectPath(bucket, key), `${sourceBucket}/${encodePath(sourceKey)}`), S3_RETRY);
  }

  private async once(path: string, copySource: string): Promise<string> {
    const res = await request(`${this.url.protocol}//${this.url.host}${path}`, {
      method: 'PUT',
      headers: this.sign('PUT', path, { 'x-amz-copy-source': copySource }),
      dispatcher: this.agent,
    });
    const body = await res.body.text();
    // CopyObject can answer 200 and still fail: the error is in the body.
    const code = xmlValue(body, 'Code');
    if (res.statusCode !== 200 || code) {
      const name = code ?? (res.statusCode === 403 ? 'AccessDenied' : res.statusCode === 404 ? 'NoSuchKey' : `HTTP${res.statusCode}`);
      throw new S3ResponseError(name, xmlValue(body, 'Message') ?? `CopyObject answered ${res.statusCode}`, res.statusCode);
    }
    return (xmlValue(body, 'ETag') ?? '').replace(/"/g, '');
  }

  /**
   * PutObject of a body whose length is known, streamed as it arrives (UNSIGNED-PAYLOAD: the body is
   * not buffered to hash it); the ETag without quotes. Not retried: a stream cannot be sent twice.
   */
  async put(
    bucket: string,
    key: string,
    body: Readable,
    length: number,
    headers: Record<string, string>,
    part?: { uploadId: string; partNumber: number },
  ): Promise<string> {
    // UploadPart is the same PUT with the part named in the query (sorted by name, as SigV4 signs it).
    const query = part ? `?partNumber=${part.partNumber}&uploadId=${encodeSegment(part.uploadId)}` : '';
    const path = this.objectPath(bucket, key) + query;
    const res = await request(`${this.url.protocol}//${this.url.host}${path}`, {
      method: 'PUT',
      // A declared x-amz-content-sha256 among `headers` is signed and sent instead: the store then checks the bytes against it.
      headers: this.sign('PUT', path, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers, 'content-length': String(length) }),
      body,
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw s3ErrorAnswer(res.statusCode, text, part ? 'UploadPart' : 'PutObject');
    return String(res.headers.etag ?? '').replace(/"/g, '');
  }

  /**
   * GetObject, the whole object or a byte range, streamed: null when the key is not there. The request is
   * retried as copies are; once the body flows, a failure is the reader's. Headers come lower-cased, as sent.
   */
  async get(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ headers: Record<string, string>; body: Readable } | null> {
    return backOff(() => this.getOnce(this.objectPath(bucket, key), range), S3_RETRY);
  }

  private async getOnce(path: string, range?: { start: number; end: number }): Promise<{ headers: Record<string, string>; body: Readable } | null> {
    const res = await request(`${this.url.protocol}//${this.url.host}${path}`, {
      headers: this.sign('GET', path, range ? { range: `bytes=${range.start}-${range.end}` } : {}),
      dispatcher: this.readAgent,
    });
    if (res.statusCode === 200 || res.statusCode === 206) {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers[name] = value;
      return { headers, body: res.body };
    }
    const err = s3ErrorAnswer(res.statusCode, await res.body.text(), 'GetObject');
    if (err.name === 'NoSuchKey') return null;
    throw err;
  }

  /** HeadObject: the answer's headers (lower-cased), null when the key is not there. Retried as reads are. */
  async head(bucket: string, key: string): Promise<Record<string, string> | null> {
    const path = this.objectPath(bucket, key);
    return backOff(async () => {
      const res = await request(`${this.url.protocol}//${this.url.host}${path}`, {
        method: 'HEAD',
        headers: this.sign('HEAD', path, {}),
        dispatcher: this.readAgent,
        // undici closes a connection after a HEAD unless told not to (a guard against servers that answer HEAD with a
        // body); S3 stores don't, and a fresh connection per HEAD cost more CPU than the request.
        reset: false,
      });
      await res.body.dump();
      if (res.statusCode === 404) return null;
      // A HEAD answer has no body to name its error: the status does, as the SDK names it.
      if (res.statusCode !== 200)
        throw new S3ResponseError(res.statusCode === 403 ? 'Forbidden' : `HTTP${res.statusCode}`, `HeadObject answered ${res.statusCode}`, res.statusCode);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers[name] = value;
      return headers;
    }, S3_RETRY);
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.readAgent.close()]);
  }
}
