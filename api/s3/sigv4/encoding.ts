// Percent-decoding to bytes and AWS's URI encoding of bytes: S3 signs each path segment and query
// name/value encoded once, with only the unreserved characters A-Z a-z 0-9 - _ . ~ left as they are.

const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** AWS's UriEncode of raw bytes (uppercase hex). */
export function uriEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b < 128 && UNRESERVED[b]) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Decodes %XX escapes to bytes; other characters stand for their UTF-8 bytes. Works on bytes so that a
 * key whose escapes are not valid UTF-8 still canonicalises exactly. `plusIsSpace` is for query strings.
 * Returns null for a malformed escape.
 */
export function percentDecode(text: string, plusIsSpace: boolean): Buffer | null {
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return Buffer.from(text, 'utf8');
  const bytes: number[] = [];
  let literalStart = 0;
  const flush = (end: number): void => {
    if (end > literalStart) for (const b of Buffer.from(text.slice(literalStart, end), 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      flush(i);
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      bytes.push(hi * 16 + lo);
      i += 2;
      literalStart = i + 1;
    } else if (plusIsSpace && c === 43 /* + */) {
      flush(i);
      bytes.push(32);
      literalStart = i + 1;
    }
  }
  flush(text.length);
  return Buffer.from(bytes);
}
