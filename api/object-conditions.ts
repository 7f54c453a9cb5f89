// The conditional-request rules both object planes answer by (S3's: RFC 7232 as S3 applies it).
import type { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import type { LakeObjectHead } from '../lake/types.js';

export const quoted = (etag: string) => `"${etag}"`;
export const etagMatches = (header: string, etag: string) =>
  header.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '').replace(/"/g, '') === etag);

/** S3's answers to conditional reads: 412 for If-Match / If-Unmodified-Since, 304 for If-None-Match / If-Modified-Since. */
export function conditionalRead(req: { headers: IncomingHttpHeaders }, head: Pick<LakeObjectHead, 'etag' | 'lastModified'>): 304 | 412 | null {
  const ifMatch = req.headers['if-match'];
  if (ifMatch && !etagMatches(ifMatch, head.etag)) return 412;
  const ifUnmodified = req.headers['if-unmodified-since'];
  if (!ifMatch && ifUnmodified && head.lastModified.getTime() > Date.parse(ifUnmodified) + 999) return 412;
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch && etagMatches(ifNoneMatch, head.etag)) return 304;
  const ifModified = req.headers['if-modified-since'];
  if (!ifNoneMatch && ifModified && head.lastModified.getTime() <= Date.parse(ifModified) + 999) return 304;
  return null;
}

/**
 * S3's conditional writes: the header that fails (`if-none-match: *` when the key exists, `if-match` when it does
 * not or its ETag differs), null when the write may go ahead. `existing` is the object as the caller's plane names it.
 */
export function writeConditionFails(headers: IncomingHttpHeaders, existing: Pick<LakeObjectHead, 'etag'> | null): 'if-match' | 'if-none-match' | null {
  const ifNoneMatch = headers['if-none-match'];
  const ifMatch = headers['if-match'];
  if (ifMatch && (!existing || !etagMatches(ifMatch, existing.etag))) return 'if-match';
  if (ifNoneMatch?.trim() === '*' && existing) return 'if-none-match';
  return null;
}

/**
 * The byte range a GET asks for, as S3 reads `Range`: null for the whole object (no header, or a malformed one,
 * which S3 ignores; several ranges are served as the first), 'unsatisfiable' when it lies outside the object.
 */
export function requestedRange(req: Pick<Request, 'headers' | 'range'>, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!req.headers.range) return null;
  const parsed = req.range(size, { combine: true });
  if (parsed === -1) return 'unsatisfiable';
  if (parsed === -2 || !parsed || parsed.length === 0) return null;
  return { start: parsed[0]!.start, end: parsed[0]!.end };
}
