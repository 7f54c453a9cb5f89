import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { textProblem, unstorableIn } from '../domain/text.js';
import { ApiError } from './errors.js';
import { matchOperation } from './route-table.js';

/** Request headers the routes read (and may store, such as an object's content type). */
const READ_HEADERS = ['host', 'content-type', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'range'] as const;

const decode = (field: string, raw: string): string => {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw ApiError.invalid(field, 'is not valid percent-encoded UTF-8');
  }
};

const check = (field: string, value: string): void => {
  const problem = textProblem(value);
  if (problem) throw ApiError.invalid(field, problem);
};

/** Each path parameter, named as the route names it; the segments of a path no route serves, as `path`. */
function checkPath(req: Request): void {
  const match = matchOperation(req.method, req.path);
  if (!match) {
    for (const segment of req.path.split('/')) check('path', decode('path', segment));
    return;
  }
  // A key's segments are decoded one by one, as Express does for `*key`.
  for (const [name, raw] of Object.entries(match.params))
    check(
      name,
      raw
        .split('/')
        .map((s) => decode(name, s))
        .join('/'),
    );
}

function checkQuery(req: Request): void {
  // The query parser turns bad percent-encoding into U+FFFD without a word: check the raw pairs first.
  const raw = req.originalUrl.slice(req.originalUrl.indexOf('?') + 1 || req.originalUrl.length);
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const at = pair.indexOf('=');
    const name = decode('query', (at < 0 ? pair : pair.slice(0, at)).replace(/\+/g, ' '));
    if (at >= 0) decode(name, pair.slice(at + 1).replace(/\+/g, ' '));
  }
  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    check('query', name);
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') check(name, v);
  }
}

function checkHeaders(req: Request): void {
  for (const name of READ_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') check(name, value);
  }
}

/**
 * Refuses, before any route runs, a path parameter, query value or read
 * header holding a control character or an unpaired surrogate: such text is
 * never a valid id, name, key or prefix, and Postgres cannot even store NUL.
 * Runs after authentication, so an unauthenticated request learns nothing.
 */
export function textGuard(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    checkPath(req);
    checkQuery(req);
    checkHeaders(req);
    next();
  };
}

/**
 * A backstop behind the per-field schemas: no string in a JSON body, key or
 * value, may hold NUL or an unpaired surrogate, which no field can store.
 */
export function bodyTextGuard(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const hit = req.body === undefined ? null : unstorableIn(req.body);
    if (hit) throw ApiError.invalid(hit.field, hit.problem);
    next();
  };
}
