import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from '../domain/failures.js';
import { textProblem } from '../domain/text.js';

/** Byte-order comparison of keys (UTF-8), matching S3 listings and Postgres `collate "C"`. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The longest file name most filesystems take (NAME_MAX); a longer segment cannot be a directory-lake path. */
const MAX_SEGMENT_BYTES = 255;

/**
 * A lake key must be storable the same way in both lakes: a safe relative
 * path in the directory lake and a valid S3 key. So no empty segments (`a//b`
 * would alias `a/b` on disk, and a trailing `/` names a folder, not a file),
 * no `.` or `..` segments, no control characters (NUL included) and no
 * unpaired surrogates, no leading slash, segments of at most 255
 * bytes and at most 1024 bytes in all.
 */
export function lakeKeyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  if (Buffer.byteLength(key, 'utf8') > 1024) return 'must be at most 1024 bytes';
  // Keys show up in paths, logs and terminals, and the API refuses them in its paths: no control characters (NUL included).
  const text = textProblem(key);
  if (text) return text;
  if (key.startsWith('/')) return 'must not start with /';
  if (key.endsWith('/')) return 'must not end with / (a folder is not an object)';
  const segments = key.split('/');
  if (segments.some((s) => s === '')) return 'must not contain empty segments (//)';
  if (segments.some((s) => s === '.' || s === '..')) return 'must not contain . or .. segments';
  if (segments.some((s) => Buffer.byteLength(s, 'utf8') > MAX_SEGMENT_BYTES)) return `must not have a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  return null;
}

/** A key prefix (a source's targetPrefix): empty, or a lake key with at most one trailing `/`. */
export function lakePrefixProblem(prefix: string): string | null {
  if (prefix === '') return null;
  return lakeKeyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/**
 * A listing prefix: its folder part (up to the last `/`) must be a lake
 * prefix, since the directory lake reads that folder; the partial last
 * segment is matched as text (`a/.hid` finds `a/.hidden`).
 */
export function listPrefixProblem(prefix: string): string | null {
  const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  return folder === '' ? null : lakePrefixProblem(folder);
}

/** A key for an error message: long keys are cut so the message (and the reason in it) stays readable. */
export const keyPreview = (key: string): string => JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key);

/**
 * The lake refuses a key it can never store: permanent, so ingestion
 * dead-letters the object at once instead of retrying it.
 */
export function unstorableKey(key: string, problem: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FAILURE.unstorableKey, message: `lake key ${keyPreview(key)} ${problem}`, nonRetryable: true, details: [problem] });
}

/** A directory-lake key that clashes with a stored object (a file where a folder is needed, or the reverse). */
export function lakeKeyConflict(key: string, problem: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE.lakeKeyConflict,
    message: `lake key ${keyPreview(key)} ${problem}`,
    nonRetryable: true,
    details: [problem],
  });
}

export function joinKey(prefix: string, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? prefix + key : `${prefix}/${key}`;
}
