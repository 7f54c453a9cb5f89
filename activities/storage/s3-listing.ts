import { backOff } from 'exponential-backoff';
import { request, type Dispatcher } from 'undici';
import { findEgressDenied } from '../net/egress.js';
import { S3ResponseError, S3_RETRY, encodeSegment, rawXmlBetween, rawXmlValue, s3ErrorAnswer, unescapeXml } from '../../lake/s3-wire.js';
import { signS3 } from '../../lake/s3-signer.js';

export interface ListingTarget {
  /** The bucket's base URL as the SDK's endpoint rules resolve it (virtual-host or path style). */
  url: URL;
  /** The region the request is signed for. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Connections go through this (the egress policy's pool for tenant-given endpoints). */
  dispatcher: Dispatcher;
}

export interface ListedEntry {
  /** The key as stored (URL-decoded when the answer was URL-encoded). */
  key: string;
  /** As S3 gives it, quotes included. */
  etag: string;
  size: number;
  lastModified: Date | null;
}

export interface ListingAnswer {
  contents: ListedEntry[];
  truncated: boolean;
}

/** A key from a listing made with `EncodingType: 'url'` (form encoding: `+` is a space). */
export const urlDecodedKey = (key: string): string => (key.indexOf('%') === -1 && key.indexOf('+') === -1 ? key : decodeURIComponent(key.replace(/\+/g, ' ')));

/**
 * One ListObjectsV2 answer's entries. The answer is S3's own fixed shape, so
 * the values are read by position instead of through a general XML parser:
 * on a page of 1,000 keys the SDK's parser and schema deserializer spent
 * ~17 ms of CPU and fast-xml-parser ~20 ms, this ~5 ms, and a quiet resync is
 * mostly pages.
 */
export function parseListing(xml: string): ListingAnswer {
  try {
    return readListing(xml);
  } catch (err) {
    if (err instanceof S3ResponseError) throw err;
    // A key whose encoding does not decode, an entity out of range: not an answer an S3 service gives.
    throw new S3ResponseError('MalformedListing', `the listing does not read: ${(err as Error).message}`, 200, true);
  }
}

const malformed = (what: string) => new S3ResponseError('MalformedListing', `the listing has ${what}`, 200, true);

function readListing(xml: string): ListingAnswer {
  const truncated = rawXmlValue(xml, 'IsTruncated');
  if (truncated === undefined || !xml.includes('<ListBucketResult'))
    throw new S3ResponseError('MalformedListing', 'the answer is not a ListObjectsV2 result', 200, true);
  // A store that ignores EncodingType answers raw keys (and says so by leaving it out): decode only what was encoded.
  const encoded = rawXmlValue(xml, 'EncodingType') === 'url';
  const contents: ListedEntry[] = [];
  for (let at = xml.indexOf('<Contents>'); at !== -1;) {
    const end = xml.indexOf('</Contents>', at);
    if (end === -1) throw new S3ResponseError('MalformedListing', 'a Contents element of the listing is cut short', 200, true);
    const rawKey = rawXmlBetween(xml, '<Key>', '</Key>', at, end);
    if (rawKey !== undefined) {
      const key = unescapeXml(rawKey);
      const modified = rawXmlBetween(xml, '<LastModified>', '</LastModified>', at, end);
      const size = Number(rawXmlBetween(xml, '<Size>', '</Size>', at, end) ?? 0);
      const lastModified = modified === undefined ? null : new Date(modified);
      if (!Number.isSafeInteger(size) || size < 0) throw malformed('a size that is not a byte count');
      if (lastModified !== null && Number.isNaN(lastModified.getTime())) throw malformed('a modification time that is not a date');
      contents.push({ key: encoded ? urlDecodedKey(key) : key, etag: unescapeXml(rawXmlBetween(xml, '<ETag>', '</ETag>', at, end) ?? ''), size, lastModified });
    }
    at = xml.indexOf('<Contents>', end);
  }
  return { contents, truncated: truncated === 'true' };
}

/**
 * ListObjectsV2 of a source bucket as a signed GET on an undici pool: a
 * quiet resync lists every key of a source, and on a small machine the
 * SDK's per-page CPU was most of the worker's. Retried like the SDK does
 * (three tries) for what may pass; a destination the egress policy refuses
 * is not retried.
 */
export class S3Lister {
  constructor(private readonly t: ListingTarget) {}

  page(q: { prefix: string; startAfter?: string; maxKeys: number }): Promise<ListingAnswer> {
    const query = [
      'encoding-type=url',
      'list-type=2',
      `max-keys=${q.maxKeys}`,
      ...(q.prefix ? [`prefix=${encodeSegment(q.prefix)}`] : []),
      ...(q.startAfter !== undefined ? [`start-after=${encodeSegment(q.startAfter)}`] : []),
    ].join('&');
    const path = `${this.t.url.pathname}${this.t.url.pathname.endsWith('/') ? '' : '/'}?${query}`;
    return backOff(() => this.once(path), { ...S3_RETRY, retry: (err) => findEgressDenied(err) === null && S3_RETRY.retry(err) });
  }

  private async once(path: string): Promise<ListingAnswer> {
    const { url } = this.t;
    const res = await request(`${url.protocol}//${url.host}${path}`, {
      headers: signS3(this.t, this.t.region, { method: 'GET', host: url.host, path }),
      dispatcher: this.t.dispatcher,
    });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw s3ErrorAnswer(res.statusCode, body, 'ListObjectsV2');
    return parseListing(body);
  }
}
