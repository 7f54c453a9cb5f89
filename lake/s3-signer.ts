// SigV4 for the lean paths' own requests (copies, PUTs, parts, GETs, HEADs, listings). The canonical request is
// built from exactly what is sent, and the signing key is cached per day as a KeyObject: aws4 keyed an HMAC by a raw
// Buffer on every request, and that conversion plus its general-purpose request parsing was a fifth of the worker's
// CPU during a full sync of small objects.
import { createHash } from 'node:crypto';
import { EMPTY_SHA256, byCodeUnit, signHex, signingKey } from '../domain/sigv4-key.js';
import { encodeSegment } from './s3-wire.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequest {
  method: string;
  host: string;
  /** Already encoded as sent (S3 signs the path as it is, never normalised); may carry `?query`. */
  path: string;
  /** Extra headers to send and sign (any case). */
  headers?: Record<string, string>;
}

/** Query pairs re-encoded strictly and sorted by name then value, as SigV4 signs them. */
function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const name = decodeURIComponent(eq < 0 ? p : p.slice(0, eq));
      const value = eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1));
      return [encodeSegment(name), encodeSegment(value)] as const;
    })
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

/**
 * The headers to send for a request signed with SigV4 for S3 in `region`: the given ones (lower-cased), host,
 * x-amz-date, x-amz-content-sha256 (the empty body's hash unless one is given, e.g. UNSIGNED-PAYLOAD), the session
 * token if any, and Authorization. Every header sent is signed.
 */
export function signS3(creds: S3Credentials, region: string, req: SignedRequest, now = new Date()): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
  headers.host = req.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] ??= EMPTY_SHA256;
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(headers).sort(byCodeUnit);
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const q = req.path.indexOf('?');
  const canonical = [
    req.method,
    q < 0 ? req.path : req.path.slice(0, q),
    q < 0 ? '' : canonicalQuery(req.path.slice(q + 1)),
    canonicalHeaders,
    signedHeaders,
    headers['x-amz-content-sha256'],
  ].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
  const signature = signHex(signingKey(creds.secretAccessKey, date, region, 's3'), stringToSign);
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
