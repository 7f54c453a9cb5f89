/**
 * Text that crosses the edge (request bodies, paths, queries, headers, token
 * claims) is checked here once, so it never reaches a workflow or Postgres:
 * Postgres refuses NUL in text and unpaired surrogates are not UTF-8 at all,
 * and control characters in a name or key turn into terminal escapes and
 * forged log lines wherever they are printed.
 */
import { z } from 'zod';

/**
 * Field classes: a `line` (names, ids, keys, prefixes, tokens) holds no
 * control character at all (C0, DEL, C1); `multiline` free text (a pause
 * reason) may hold tab and newline. Neither may hold an unpaired surrogate.
 */
export type TextClass = 'line' | 'multiline';

// \p{Cc} is exactly C0, DEL and C1; with the u flag a paired surrogate is one code point, so \p{Cs} matches only unpaired halves.
const FORBIDDEN: Record<TextClass, RegExp> = {
  line: /[\p{Cc}\p{Cs}]/u,
  multiline: /[^\P{Cc}\t\n]|\p{Cs}/u,
};

/** The names a reader knows the usual suspects by. */
const NAMES: Record<number, string> = {
  0x00: 'NUL',
  0x07: 'BEL',
  0x08: 'BS',
  0x09: 'TAB',
  0x0a: 'LF',
  0x0d: 'CR',
  0x1b: 'ESC',
  0x7f: 'DEL',
  0x85: 'NEL',
  0x9b: 'CSI',
};

const codePoint = (c: string): string => {
  const n = c.charCodeAt(0);
  return `U+${n.toString(16).toUpperCase().padStart(4, '0')}${NAMES[n] ? ` ${NAMES[n]}` : ''}`;
};

/** Why `value` is not acceptable text of this class, or null. Never echoes the value (it may be a secret). */
export function textProblem(value: string, kind: TextClass = 'line'): string | null {
  return describe(FORBIDDEN[kind].exec(value));
}

function describe(found: RegExpExecArray | null): string | null {
  if (!found) return null;
  const c = found[0];
  if (/\p{Cs}/u.test(c)) return `must be valid Unicode (unpaired surrogate ${codePoint(c)} at character ${found.index})`;
  return `must not contain control characters (${codePoint(c)} at character ${found.index})`;
}

const refined = (kind: TextClass) =>
  z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, abort: true });
  });

/**
 * The one string schema request schemas use: `text()` for names, ids, keys,
 * prefixes and secrets; `text('multiline')` for free text. Chain `.min()`,
 * `.max()`, `.regex()`… on it as on `z.string()`.
 */
export const text = (kind: TextClass = 'line') => refined(kind);

/** Control characters and unpaired surrogates written as `\u{…}`, for a value a terminal or a log line must show inertly. */
export function escapeControl(value: string): string {
  return value.replace(/[\p{Cc}\p{Cs}]/gu, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/**
 * The first string anywhere in a parsed JSON value (keys included) that no
 * field may hold — NUL or an unpaired surrogate — with its path; a backstop
 * behind the per-field schemas.
 */
export function unstorableIn(value: unknown, path: string[] = []): { field: string; problem: string } | null {
  const check = (s: string, at: string[]) => {
    const problem = describe(/[\0\p{Cs}]/u.exec(s));
    return problem ? { field: at.join('.') || 'body', problem } : null;
  };
  if (typeof value === 'string') return check(value, path);
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Object.entries(value)) {
    const hit = check(k, [...path, escapeControl(k)]) ?? unstorableIn(v, [...path, k]);
    if (hit) return hit;
  }
  return null;
}
