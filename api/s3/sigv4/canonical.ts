// The canonical request of SigV4 as S3 builds it (AWS S3 API reference, "Signature Calculations for the
// Authorization Header"): the path is decoded and re-encoded segment by segment, never normalised nor
// double-encoded; query pairs are sorted by encoded name then value; headers are trimmed and inner runs of
// whitespace collapsed.
import { createHash } from 'node:crypto';
import { percentDecode, uriEncodeBytes } from './encoding.js';
import { byCodeUnit } from '../../../domain/sigv4-key.js';

export { EMPTY_SHA256 } from '../../../domain/sigv4-key.js';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Canonical URI of a raw (as received, percent-encoded) path; null when an escape is malformed. */
export function canonicalUri(rawPath: string): string | null {
  if (rawPath === '' || rawPath === '/') return '/';
  const segments = rawPath.split('/');
  const out: string[] = [];
  for (const segment of segments) {
    const bytes = percentDecode(segment, false);
    if (!bytes) return null;
    out.push(uriEncodeBytes(bytes));
  }
  return out.join('/');
}

export interface QueryParam {
  /** Decoded name, as text (for looking up X-Amz-* parameters). */
  name: string;
  value: string;
  encodedName: string;
  encodedValue: string;
}

/** Splits a raw query string (without '?'); '+' means a space as in HTML forms. Null on a malformed escape. */
export function parseQuery(rawQuery: string): QueryParam[] | null {
  const params: QueryParam[] = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = percentDecode(eq < 0 ? piece : piece.slice(0, eq), true);
    const value = percentDecode(eq < 0 ? '' : piece.slice(eq + 1), true);
    if (!name || !value) return null;
    params.push({
      name: name.toString('utf8'),
      value: value.toString('utf8'),
      encodedName: uriEncodeBytes(name),
      encodedValue: uriEncodeBytes(value),
    });
  }
  return params;
}

export function canonicalQuery(params: QueryParam[], excludeName?: string): string {
  return params
    .filter((p) => p.name !== excludeName)
    .map((p) => [p.encodedName, p.encodedValue] as const)
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([n, v]) => `${n}=${v}`)
    .join('&');
}

export type HeaderBag = Record<string, string | string[] | undefined>;

/** Every value of each header, lower-cased names; from rawHeaders when given (Node joins repeats with ", "). */
export function headerValues(headers: HeaderBag, rawHeaders?: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (rawHeaders) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toLowerCase();
      const list = out.get(name);
      if (list) list.push(rawHeaders[i + 1]!);
      else out.set(name, [rawHeaders[i + 1]!]);
    }
    return out;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out.set(name.toLowerCase(), Array.isArray(value) ? value : [value]);
  }
  return out;
}

const trimCollapse = (v: string): string => v.trim().replace(/\s+/g, ' ');

export function canonicalHeaders(values: Map<string, string[]>, signedHeaders: readonly string[]): string {
  return signedHeaders.map((name) => `${name}:${(values.get(name) ?? []).map(trimCollapse).join(',')}\n`).join('');
}

export function canonicalRequest(parts: {
  method: string;
  uri: string;
  query: string;
  headers: string;
  signedHeaders: readonly string[];
  payloadHash: string;
}): string {
  return [parts.method, parts.uri, parts.query, parts.headers, parts.signedHeaders.join(';'), parts.payloadHash].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
