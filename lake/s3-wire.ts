/**
 * The pieces of S3's wire format lakesync's lean request paths share (the
 * lake's CopyObject/PutObject in lake/s3-copier.ts, a source's
 * ListObjectsV2 in activities/storage/s3-listing.ts): path encoding as S3
 * signs it, the XML values those answers carry, and S3's error answers.
 */

/**
 * An S3 error answer, named like the SDK names them (`AccessDenied`, `NoSuchKey`, …); `status` is the HTTP
 * status, also in `$metadata` as on the SDK's errors, so failures read the same whichever path made the request.
 */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };

  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
    /** The answer was not S3's (no S3 error document): another kind of server answered. */
    readonly foreignAnswer = false,
  ) {
    super(message);
    this.$metadata = { httpStatusCode: status };
  }
}

/** S3 error codes worth another try: the service is busy or restarting, or timed the request out. */
export const RETRYABLE_S3_CODES = new Set(['InternalError', 'SlowDown', 'ServiceUnavailable', 'RequestTimeout']);

/** Whether a failed lean request may pass on a retry: a 5xx or throttling answer, or no answer at all (a socket error). */
export const retryableS3Failure = (err: unknown): boolean => (err instanceof S3ResponseError ? RETRYABLE_S3_CODES.has(err.name) || err.status >= 500 : true);

/** The lean paths' retries (exponential-backoff options): three tries, 100 then 200 ms apart, for what may pass. */
export const S3_RETRY = { numOfAttempts: 3, startingDelay: 100, timeMultiple: 2, jitter: 'none', retry: retryableS3Failure } as const;

/** RFC 3986 encoding of one path segment or query value, as S3 signs it. */
export const encodeSegment = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
export const encodePath = (key: string): string => key.split('/').map(encodeSegment).join('/');

/** XML has five named entities and numeric references; S3 stores use both (`&quot;`, `&#34;`). */
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', apos: "'" };
export const unescapeXml = (s: string): string => {
  if (s.indexOf('&') === -1) return s;
  // Every ETag of a listing comes as &quot;…&quot;: those go first, without the general pattern (a quote brings no `&`).
  const quoted = s.replaceAll('&quot;', '"');
  return quoted.indexOf('&') === -1
    ? quoted
    : quoted.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|apos);/g, (_, e: string) =>
        e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : NAMED[e]!,
      );
};

/** The raw text of the first `<tag>` element in `xml` from `from` on (undefined if none), still escaped. */
export function rawXmlValue(xml: string, tag: string, from = 0, to = xml.length): string | undefined {
  return rawXmlBetween(xml, `<${tag}>`, `</${tag}>`, from, to);
}

/** rawXmlValue with the tags spelled out: a listing reads four of them per key. */
export function rawXmlBetween(xml: string, open: string, close: string, from: number, to: number): string | undefined {
  const at = xml.indexOf(open, from);
  if (at === -1 || at >= to) return undefined;
  const start = at + open.length;
  const end = xml.indexOf(close, start);
  return end === -1 || end > to ? undefined : xml.slice(start, end);
}

/** The text of the first `<tag>` element, unescaped. */
export const xmlValue = (xml: string, tag: string): string | undefined => {
  const raw = rawXmlValue(xml, tag);
  return raw === undefined ? undefined : unescapeXml(raw);
};

/** An error answer as an error: S3's `<Code>` and `<Message>`; an answer without an S3 error document is foreign. */
export function s3ErrorAnswer(status: number, body: string, operation: string): S3ResponseError {
  const code = xmlValue(body, 'Code');
  return new S3ResponseError(code ?? `HTTP${status}`, xmlValue(body, 'Message') ?? `${operation} answered ${status}`, status, code === undefined);
}
