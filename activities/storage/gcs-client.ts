/**
 * A reading client of the Cloud Storage JSON API: list a bucket's objects and
 * stream one. Every request goes through an undici dispatcher that obeys the
 * egress policy (the @google-cloud/storage client takes no agent, so its
 * sockets could not be held to it). Service-account keys sign self-signed
 * JWTs with google-auth-library: no token endpoint is called, so no token
 * request can leak or go where the policy does not allow; an emulator
 * endpoint without a key is called without credentials.
 */
import type { Readable } from 'node:stream';
import { JWT } from 'google-auth-library';
import { fetch, request, type Agent, type Dispatcher } from 'undici';
import type { EgressPolicy } from '../../domain/egress-policy.js';
import type { GcsCredentials } from '../../domain/gcs-source.js';
import { egressDispatcher } from '../net/egress.js';

const GOOGLE_STORAGE = 'https://storage.googleapis.com';
const READ_ONLY_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';
/** Bounds a listing; a download waits on undici's own header and body timeouts, since a large body may take long. */
const LIST_TIMEOUT_MS = 60_000;

/** An error answer of the API (or a key that cannot sign). `code` is what logs and lastError show first. */
export class GcsError extends Error {
  constructor(
    /** The HTTP status; 0 when no request was made. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** The answer was not one the API gives (no JSON error of its own): strict egress mode shows it as unreachable. */
    readonly foreignAnswer = false,
  ) {
    super(message);
    // Stored errors read `<name>: <message>`, as an S3 error's code does.
    this.name = code;
  }
}

/** The names the API gives its statuses, so lastError reads `NotFound: …` like an S3 error code. */
const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  412: 'PreconditionFailed',
  429: 'TooManyRequests',
};

/**
 * The API's own error message (`{"error":{"message":…}}`), or null: the body
 * of an answer from some other kind of server is not repeated, so errors
 * cannot be used to read what answers at an address.
 */
function apiMessage(body: string): string | null {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' && message.trim() ? message.replace(/\s+/g, ' ').trim().slice(0, 300) : null;
  } catch {
    return null;
  }
}

export interface GcsObject {
  name: string;
  size: string;
  generation: string;
  md5Hash?: string;
  updated?: string;
  contentType?: string;
}

interface ListAnswer {
  items?: GcsObject[];
  nextPageToken?: string;
}

// One connection pool per policy (per worker), every connection checked against it.
const dispatchers = new WeakMap<EgressPolicy, Agent>();
function dispatcherFor(policy: EgressPolicy): Agent {
  let d = dispatchers.get(policy);
  if (!d) dispatchers.set(policy, (d = egressDispatcher(policy)));
  return d;
}

export class GcsClient {
  private readonly base: string;
  private readonly auth: JWT | null;
  private readonly dispatcher: Agent;

  constructor(o: { endpoint?: string; credentials: GcsCredentials | null; egress: EgressPolicy }) {
    this.base = (o.endpoint ?? GOOGLE_STORAGE).replace(/\/+$/, '');
    this.dispatcher = dispatcherFor(o.egress);
    const c = o.credentials;
    this.auth = c
      ? new JWT({
          email: c.clientEmail,
          key: c.privateKey,
          keyId: c.privateKeyId,
          scopes: [READ_ONLY_SCOPE],
          // Should the library ever make a request of its own, it too obeys the policy.
          transporterOptions: { fetchImplementation: ((url: string, init: object) => fetch(url, { ...init, dispatcher: this.dispatcher })) as never },
        })
      : null;
    // Signs the scoped JWT itself instead of trading it for a token.
    if (this.auth) this.auth.useJWTAccessWithScope = true;
  }

  /** One page of the bucket's objects under `prefix`, from `startOffset` (inclusive) in name order. */
  async list(bucket: string, q: { prefix: string; startOffset: string | null; maxResults: number }): Promise<ListAnswer> {
    const params = new URLSearchParams({ maxResults: String(q.maxResults), fields: 'items(name,size,generation,md5Hash,updated,contentType),nextPageToken' });
    if (q.prefix) params.set('prefix', q.prefix);
    if (q.startOffset !== null) params.set('startOffset', q.startOffset);
    const res = await this.request(`${this.bucketPath(bucket)}/o?${params}`, { signal: AbortSignal.timeout(LIST_TIMEOUT_MS) });
    try {
      return (await res.body.json()) as ListAnswer;
    } catch {
      // JSON.parse's message quotes the text: say only that it was not an answer of the API.
      throw new GcsError(res.statusCode, 'BadResponse', 'the endpoint did not answer as Cloud Storage does', true);
    }
  }

  /** What metadata filters read (the object's resource, two fields of it); null when the object is gone. */
  async stat(bucket: string, name: string): Promise<{ contentType?: string; metadata?: Record<string, string> } | null> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.request(`${this.bucketPath(bucket)}/o/${encodeURIComponent(name)}?fields=contentType,metadata`, {
        signal: AbortSignal.timeout(LIST_TIMEOUT_MS),
      });
    } catch (err) {
      if (err instanceof GcsError && err.status === 404) return null;
      throw err;
    }
    try {
      return (await res.body.json()) as { contentType?: string; metadata?: Record<string, string> };
    } catch {
      throw new GcsError(res.statusCode, 'BadResponse', 'the endpoint did not answer as Cloud Storage does', true);
    }
  }

  /**
   * The object's bytes as stored, streamed. An object stored gzip-encoded is
   * asked for as it is (Google would otherwise decompress it on the way) and
   * not decoded here, so the lake holds exactly the bytes its MD5 is of.
   */
  async download(bucket: string, name: string): Promise<{ body: Readable; contentType?: string }> {
    // Media errors need not be JSON (the emulator's are plain text): only a listing, which always is, can tell a foreign answer, and
    // a download happens only after a listing succeeded.
    const res = await this.request(`${this.bucketPath(bucket)}/o/${encodeURIComponent(name)}?alt=media`, { media: true, extra: { 'accept-encoding': 'gzip' } });
    const type = res.headers['content-type'];
    return { body: res.body, contentType: typeof type === 'string' ? type : undefined };
  }

  private bucketPath(bucket: string): string {
    return `${this.base}/storage/v1/b/${encodeURIComponent(bucket)}`;
  }

  /** undici's request, not fetch: it follows no redirect and decodes no content-encoding. */
  private async request(url: string, o: { signal?: AbortSignal; media?: boolean; extra?: Record<string, string> }): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'user-agent': 'lakesync', ...o.extra };
    if (this.auth) {
      let signed: Headers;
      try {
        signed = await this.auth.getRequestHeaders(url);
      } catch {
        // The library's message may quote the key; ours does not.
        throw new GcsError(0, 'InvalidServiceAccountKey', 'the service-account key cannot sign requests');
      }
      signed.forEach((v, k) => (headers[k] = v));
    }
    const res = await request(url, { headers, dispatcher: this.dispatcher, signal: o.signal });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const status = res.statusCode;
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'ServerError' : `Http${status}`);
    const message = apiMessage(await res.body.text().catch(() => ''));
    throw new GcsError(status, code, `HTTP ${status}${message ? `: ${message}` : ''}`, message === null && !o.media);
  }
}
