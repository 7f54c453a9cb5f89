import picomatch from 'picomatch';
import { lookup } from 'mime-types';
import { errorMessage } from './error-text.js';
import type { FileFilters } from './source-config.js';

export interface FilterableObject {
  key: string;
  size: number;
  lastModified: Date | null;
}

/**
 * Compiles Mixpeek-style file filters into one predicate. Globs without a
 * slash match the base name at any depth (`*.pdf`), globs with one match the
 * whole key (`reports/**`); excludes win over includes.
 */
export function compileFilters(f: FileFilters): (o: FilterableObject) => boolean {
  const include = f.includePatterns?.length ? globs(f.includePatterns) : null;
  const exclude = f.excludePatterns?.length ? globs(f.excludePatterns) : null;
  const after = f.modifiedAfter ? Date.parse(f.modifiedAfter) : null;
  const before = f.modifiedBefore ? Date.parse(f.modifiedBefore) : null;
  const mimes = f.mimeTypes?.map((m) => m.toLowerCase());
  return (o) => {
    if (include && !include(o.key)) return false;
    if (exclude && exclude(o.key)) return false;
    if (f.minSizeBytes !== undefined && o.size < f.minSizeBytes) return false;
    if (f.maxSizeBytes !== undefined && o.size > f.maxSizeBytes) return false;
    if (after !== null && (!o.lastModified || o.lastModified.getTime() <= after)) return false;
    if (before !== null && (!o.lastModified || o.lastModified.getTime() >= before)) return false;
    if (mimes && !mimeMatches(mimes, contentTypeOf(o.key))) return false;
    return true;
  };
}

/**
 * The name-only part of the filters (include and exclude globs): what the
 * edge can check of a change notification before anything is read.
 */
export function keyFilter(f: Pick<FileFilters, 'includePatterns' | 'excludePatterns'>): (key: string) => boolean {
  const include = f.includePatterns?.length ? globs(f.includePatterns) : null;
  const exclude = f.excludePatterns?.length ? globs(f.excludePatterns) : null;
  return (key) => (!include || include(key)) && !(exclude && exclude(key));
}

/** The content type a key's extension implies: listings carry none, so filters and rules go by this. */
export const contentTypeOf = (key: string): string => (lookup(key) || 'application/octet-stream').toLowerCase();

/** `text/plain` matches itself, `text/*` any text type. */
export function mimeMatches(patterns: string[], type: string): boolean {
  return patterns.some((m) => m === type || (m.endsWith('/*') && type.startsWith(m.slice(0, -1))));
}

/** Slash-free globs match the base name at any depth; the others match the whole key. */
export function globs(patterns: string[]): (key: string) => boolean {
  const base = patterns.filter((p) => !p.includes('/'));
  const full = patterns.filter((p) => p.includes('/'));
  const matchBase = base.length ? picomatch(base, { dot: true, basename: true }) : () => false;
  const matchFull = full.length ? picomatch(full, { dot: true }) : () => false;
  return (key) => matchBase(key) || matchFull(key);
}

/** Checks glob syntax up front, so a bad pattern is a 400 and not a failed run. */
export function globProblem(pattern: string): string | null {
  try {
    picomatch.makeRe(pattern, { strictBrackets: true });
    if (pattern.includes('\0')) return 'must not contain NUL';
    return null;
  } catch (err) {
    return `is not a valid glob: ${errorMessage(err)}`;
  }
}
