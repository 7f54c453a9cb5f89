/** Byte-order comparison of keys (UTF-8), matching S3 listings and Postgres `collate "C"`. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A lake key must map to a safe relative path and a valid S3 key: no empty,
 * `.` or `..` segments, no NUL, no leading slash, at most 1024 bytes.
 */
export function lakeKeyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  if (Buffer.byteLength(key, 'utf8') > 1024) return 'must be at most 1024 bytes';
  if (key.includes('\0')) return 'must not contain NUL';
  if (key.startsWith('/')) return 'must not start with /';
  if (key.split('/').some((s) => s === '.' || s === '..')) return 'must not contain . or .. segments';
  return null;
}

export function joinKey(prefix: string, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? prefix + key : `${prefix}/${key}`;
}
