import { OPERATIONS } from './openapi.js';

type Operation = (typeof OPERATIONS)[number];

/** The byte plane's `/{bucket}/{key}` takes every remaining segment as the key, as its `/:bucket/*key` route does. */
const BYTE_PLANE = '/{bucket}/{key}';

/** Express matches routes case-insensitively and with an optional trailing slash; so do these. */
const COMPILED = OPERATIONS.map((op) => ({
  op,
  re: new RegExp(
    `^${op.path.replace(/\{(\w+)\}/g, (_, name: string) => (op.path === BYTE_PLANE && name === 'key' ? '(?<key>.+?)' : `(?<${name}>[^/]+)`))}/?$`,
    'i',
  ),
}));

/**
 * The operation of the OpenAPI table that serves `method path` (as the app's
 * routers would pick it: the byte plane last) and its raw, still
 * percent-encoded path parameters; null for a path no route serves.
 */
export function matchOperation(method: string, path: string): { op: Operation; params: Record<string, string> } | null {
  const m = method.toLowerCase();
  // Express answers HEAD with a GET route unless a HEAD route comes first.
  const serves = (op: Operation) => op.method === m || (m === 'head' && op.method === 'get');
  for (const { op, re } of COMPILED) {
    if (!serves(op)) continue;
    const found = re.exec(path);
    if (found) return { op, params: { ...found.groups } };
  }
  return null;
}

/** A GET or HEAD the byte plane serves: the only requests a signed URL may authorise. */
export const isBytePlaneRead = (method: string, path: string): boolean => {
  const match = matchOperation(method, path);
  return match !== null && match.op.path === BYTE_PLANE && (match.op.method === 'get' || match.op.method === 'head');
};
