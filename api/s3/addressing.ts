// Which bucket and key an S3 request names: path style (`/bucket/key`), or virtual-host style
// (`bucket.<LAKESYNC_S3_DOMAIN>/key`) when a domain is configured. Keys are percent-decoded as UTF-8.
import { S3Error } from './errors.js';

export interface S3Address {
  bucket: string | null;
  key: string | null;
}

const invalidUri = () => new S3Error('InvalidURI', "Couldn't parse the specified URI.");

/** Strict UTF-8 percent-decoding: bytes that are not UTF-8 are InvalidURI, never U+FFFD. */
export function decodePathPart(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw invalidUri();
  }
  return decoded;
}

/** The host without its port, lower-cased. */
const hostName = (host: string): string => host.replace(/:\d+$/, '').toLowerCase();

export function s3Address(rawPath: string, host: string | undefined, domain: string | undefined): S3Address {
  if (!rawPath.startsWith('/')) throw invalidUri();
  const name = host === undefined ? '' : hostName(host);
  const d = domain?.toLowerCase();
  if (d && name.endsWith(`.${d}`)) {
    const bucket = name.slice(0, -(d.length + 1));
    const key = rawPath.slice(1);
    return { bucket, key: key === '' ? null : decodePathPart(key) };
  }
  const path = rawPath.slice(1);
  if (path === '') return { bucket: null, key: null };
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodePathPart(path), key: null };
  const key = path.slice(slash + 1);
  return { bucket: decodePathPart(path.slice(0, slash)), key: key === '' ? null : decodePathPart(key) };
}

/** S3's query parsing: `+` is a literal plus in SigV4-signed queries only when encoded; a name without `=` has value ''. */
export function s3Query(rawQuery: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!rawQuery) return out;
  for (const pair of rawQuery.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decodePathPart((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq < 0 ? '' : decodePathPart(pair.slice(eq + 1).replace(/\+/g, ' '));
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}
