/**
 * The route table: every route of the API, in the order the app mounts them.
 * The app registers its routers from it, /openapi.json describes it, the
 * scope check reads each route's scope from it, and the text guard and
 * signed URLs match request paths against it.
 */
import type { Request, Router } from 'express';
import type { Scope } from './auth.js';
import type { ErrorEnvelope } from './errors.js';
import type { ApiDeps } from './deps.js';
import { defineRoutes, type RouteSpec, type RouteSpecs } from './route.js';
import { BUCKET_ROUTES, bucketRoutes } from './routes/buckets.js';
import { BYTE_PLANE_ROUTES, bytePlaneRoutes } from './routes/byte-plane.js';
import { DATAINSIDER_ROUTES, dataInsiderRoutes } from './routes/datainsider.js';
import { DEAD_LETTER_ROUTES, deadLetterRoutes } from './routes/dead-letters.js';
import { HEALTH_ROUTES } from './routes/health.js';
import { JOB_ROUTES, jobRoutes } from './routes/jobs.js';
import { KEY_ROUTES, keyRoutes } from './routes/keys.js';
import { MIXPEEK_ROUTES, mixpeekRoutes } from './routes/mixpeek.js';
import { OBJECT_ROUTES, objectRoutes } from './routes/objects.js';
import { PIPELINE_ROUTES, pipelineRoutes } from './routes/pipelines.js';
import { RULE_ROUTES, ruleRoutes } from './routes/rules.js';
import { SEARCH_ROUTES, searchRoutes } from './routes/search.js';
import { SOURCE_OBJECT_ROUTES, sourceObjectRoutes } from './routes/source-objects.js';
import { SOURCE_ROUTES, sourceRoutes } from './routes/sources.js';
import { SOURCE_EVENT_ROUTES, sourceEventRoutes } from './routes/source-events.js';
import { SYNC_ROUTES, syncRoutes } from './routes/sync.js';
import { UPLOAD_ROUTES, uploadRoutes } from './routes/uploads.js';

/** What the app serves about itself, without a token (their handlers live in app.ts, beside the document and the registry). */
export const META_ROUTES = defineRoutes({
  openapi: {
    method: 'get',
    route: '/openapi.json',
    summary: 'This document',
    scope: null,
    responses: { 200: { description: 'The OpenAPI 3.1 document', bytes: 'application/json' } },
  },
  metrics: {
    method: 'get',
    route: '/metrics',
    summary: 'Prometheus metrics of the API (route patterns and counts, never ids, keys or bucket names)',
    scope: null,
    responses: { 200: { description: 'Prometheus text exposition', bytes: 'text/plain' } },
  },
});

/** Mounted before authentication, in this order. */
const PUBLIC: RouteSpecs[] = [HEALTH_ROUTES, META_ROUTES];

/**
 * Mounted behind authentication, in this order: the byte plane last, since
 * its /:bucket/*key would otherwise shadow every bucket-scoped route.
 */
export const API_ROUTERS: { routes: RouteSpecs; router: (deps: ApiDeps) => Router }[] = [
  { routes: BUCKET_ROUTES, router: bucketRoutes },
  { routes: DATAINSIDER_ROUTES, router: dataInsiderRoutes },
  { routes: MIXPEEK_ROUTES, router: mixpeekRoutes },
  { routes: KEY_ROUTES, router: keyRoutes },
  { routes: JOB_ROUTES, router: jobRoutes },
  { routes: SYNC_ROUTES, router: syncRoutes },
  { routes: DEAD_LETTER_ROUTES, router: deadLetterRoutes },
  { routes: SOURCE_OBJECT_ROUTES, router: sourceObjectRoutes },
  { routes: SOURCE_ROUTES, router: sourceRoutes },
  { routes: SOURCE_EVENT_ROUTES, router: sourceEventRoutes },
  { routes: OBJECT_ROUTES, router: objectRoutes },
  { routes: UPLOAD_ROUTES, router: uploadRoutes },
  { routes: PIPELINE_ROUTES, router: pipelineRoutes },
  { routes: RULE_ROUTES, router: ruleRoutes },
  { routes: SEARCH_ROUTES, router: searchRoutes },
  { routes: BYTE_PLANE_ROUTES, router: (deps) => bytePlaneRoutes(deps, routeShadowingKey) },
];

export interface Operation extends RouteSpec {
  /** The route as OpenAPI writes it: `{name}` for each parameter. */
  path: string;
  /** Names of its path parameters, in order. */
  params: string[];
  /** Its last parameter takes every remaining segment (a byte-plane key). */
  rest: boolean;
}

const operation = (spec: RouteSpec): Operation => ({
  ...spec,
  path: spec.route.replace(/[:*](\w+)/g, '{$1}'),
  params: [...spec.route.matchAll(/[:*](\w+)/g)].map((m) => m[1]!),
  rest: spec.route.includes('*'),
});

/** Every operation, in the order Express tries them. */
export const ROUTES: Operation[] = [...PUBLIC, ...API_ROUTERS.map((g) => g.routes)].flatMap((specs) => Object.values(specs).map(operation));

/** Routes that need no bearer token, by their exact path (DataInsider's check an api_key themselves). */
export const PUBLIC_PATHS = new Set(ROUTES.filter((op) => op.scope === null).map((op) => op.path));

/** A route whose handler checks a source's webhook token in place of an API token. */
export const isSourceTokenRoute = (method: string, path: string): boolean => matchOperation(method, path)?.op.sourceToken === true;

/** Express matches routes case-insensitively and with an optional trailing slash; so do these. */
const COMPILED = ROUTES.map((op) => ({
  op,
  re: new RegExp(
    `^${op.route
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/([:*])(\w+)/g, (_, kind: string, name: string) => (kind === '*' ? `(?<${name}>.+?)` : `(?<${name}>[^/]+)`))}/?$`,
    'i',
  ),
}));

/**
 * The operation that serves `method path` (as the app's routers would pick
 * it: the byte plane last) and its raw, still percent-encoded path
 * parameters; null for a path no route serves.
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

/**
 * The route a bearer GET, HEAD or DELETE of `/:bucket/<key>` reaches instead
 * of the byte plane (`GET /:bucket/jobs` lists jobs, `DELETE
 * /:bucket/sources/:sourceId` deletes a source), as `METHOD route`; null when
 * the byte plane serves the key every way.
 */
export function routeShadowingKey(key: string): string | null {
  // Any bucket name will do: the routes that could shadow a key all start with /:bucket.
  const path = `/bucket/${key.split('/').map(encodeURIComponent).join('/')}`;
  for (const method of ['get', 'head', 'delete']) {
    const match = matchOperation(method, path);
    if (match && !match.op.rest) return `${match.op.method.toUpperCase()} ${match.op.route}`;
  }
  return null;
}

/** A GET or HEAD the byte plane serves: the only requests a signed URL may authorise. */
export const isBytePlaneRead = (method: string, path: string): boolean => {
  const match = matchOperation(method, path);
  return match !== null && match.op.rest && (match.op.method === 'get' || match.op.method === 'head');
};

/** The error shape a route answers in (a path no route serves: lakesync's). */
export function envelopeOf(op: RouteSpec | undefined): ErrorEnvelope {
  if (op?.apiKey !== undefined) return 'datainsider';
  return op?.errors ?? 'lakesync';
}

/** The scope a request needs: its route's, from the table. `admin` implies all. */
export function requiredScope(req: Pick<Request, 'method' | 'path'>): Scope {
  // /admin is the admin's namespace whatever route would serve it (no bucket may be named admin).
  if (/^\/admin(\/|$)/i.test(req.path)) return 'admin';
  const scope = matchOperation(req.method, req.path)?.op.scope;
  if (scope) return scope;
  // No route serves it, so it ends in a 404 once past authentication: reads need read, anything else write.
  return req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write';
}
