import type { Request, Response, Router } from 'express';
import { sendBody } from '../send-body.js';
import { eq } from 'drizzle-orm';
import { buckets } from '../../db/schema.js';
import { lakeKeyProblem } from '../../lake/keys.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { recordArrival, recordRemoval } from '../push-source.js';
import { findBucket } from './lookup.js';
import { logFields } from '../log-fields.js';
import { headWithMetadata, metadataFromHeaders, metadataToCatalog, setObjectHeaders } from '../object-metadata.js';
import { defineRoutes, routesOf } from '../route.js';
import { conditionalRead, quoted, requestedRange, writeConditionFails } from '../object-conditions.js';

/** An object key from the path, refused with 400 unless it is a safe lake key. */
export function checkedKey(key: string): string {
  const problem = lakeKeyProblem(key);
  if (problem) throw ApiError.invalid('key', problem);
  return key;
}

/** Express 5 hands a `*key` wildcard over as its path segments. */
export function objectKey(req: Request): string {
  const raw = (req.params as Record<string, string | string[]>).key;
  return checkedKey(Array.isArray(raw) ? raw.join('/') : (raw ?? ''));
}

/** A signed URL stands in for a bearer token on GET and HEAD. */
export const isSignedRequest = (req: Request): boolean =>
  (req.method === 'GET' || req.method === 'HEAD') && typeof req.query['X-Lakesync-Signature'] === 'string';

const OBJECT_BYTES = 'application/octet-stream';

/** The key is every segment after the bucket's; the app mounts these last, since they would shadow every bucket-scoped route. */
export const BYTE_PLANE_ROUTES = defineRoutes({
  put: {
    method: 'put',
    route: '/:bucket/*key',
    summary: 'Byte plane: upload an object (raw body, streamed); it is then ingested',
    scope: 'write',
    responses: { 200: { description: 'Stored; the ETag header names the content' } },
  },
  // HEAD first: Express would otherwise hand HEAD to the GET route.
  head: {
    method: 'head',
    route: '/:bucket/*key',
    summary: 'Byte plane: S3 metadata headers',
    scope: 'read',
    responses: { 200: { description: 'The headers a GET would answer with' }, 304: { description: 'Not modified' } },
  },
  get: {
    method: 'get',
    route: '/:bucket/*key',
    summary: 'Byte plane: download (Range, conditional requests; or a signed URL without a token)',
    scope: 'read',
    responses: {
      200: { description: "The object's bytes", bytes: OBJECT_BYTES },
      206: { description: 'The requested range', bytes: OBJECT_BYTES },
      304: { description: 'Not modified' },
    },
  },
  delete: { method: 'delete', route: '/:bucket/*key', summary: 'Byte plane: delete an object', scope: 'write', responses: { 204: {} } },
});

/**
 * K3's byte plane: PUT / GET / HEAD / DELETE on /:bucket/:key, streamed both
 * ways. `shadowedBy` names the API route a bearer read or delete of a key
 * would reach instead (api/route-table.ts): such keys are never created here.
 */
export function bytePlaneRoutes(deps: ApiDeps, shadowedBy: (key: string) => string | null): Router {
  const r = routesOf(BYTE_PLANE_ROUTES);

  const bucketFor = async (req: Request, res: Response, key: string) => {
    if (!isSignedRequest(req)) return findBucket(deps, req.params.bucket as string, callerOf(res).org);
    // The signature names the bucket by id: a bucket deleted and created again under the same name (by anyone) is another bucket.
    const [bucket] = await deps.db
      .select()
      .from(buckets)
      .where(eq(buckets.name, req.params.bucket as string));
    // No bucket by that name: the signature cannot match, and saying so reveals nothing about which names exist.
    const problem = bucket
      ? deps.urlSigner.verify(bucket.id, key, req.query['X-Lakesync-Expires'], req.query['X-Lakesync-Signature'])
      : 'signature does not match';
    if (!bucket || problem) {
      const why = problem ?? 'signature does not match';
      throw new ApiError('PERMISSION_DENIED', `signature: ${why}`, [{ field: 'signature', problem: why }]);
    }
    return bucket;
  };

  r.on('put', async (req, res) => {
    const key = objectKey(req);
    const shadow = shadowedBy(key);
    if (shadow) {
      const segment = key.split('/')[0]!;
      throw ApiError.invalid(
        'key',
        `starts with the reserved segment '${segment}': ${shadow} would answer for '${key}', so the byte plane could not serve it back`,
      );
    }
    const metadata = metadataFromHeaders(req.headers);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    if (req.headers['if-none-match'] || req.headers['if-match']) {
      const failed = writeConditionFails(req.headers, await deps.lake.head(bucket.name, key));
      if (failed)
        throw new ApiError('PRECONDITION_FAILED', 'the object does not match the request conditions', [{ field: failed, problem: 'precondition failed' }]);
    }
    const length = req.headers['content-length'] ? Number(req.headers['content-length']) : undefined;
    const put = await deps.lake.put(bucket.name, key, req, { ...metadata, size: length });
    await recordArrival(deps, bucket, key, put, metadataToCatalog(deps, metadata));
    res.setHeader('ETag', quoted(put.etag));
    res.status(200).end();
  });

  const read = async (req: Request, res: Response, withBody: boolean) => {
    const key = objectKey(req);
    const bucket = await bucketFor(req, res, key);
    const found = await deps.lake.head(bucket.name, key);
    if (!found) throw ApiError.notFound(`object ${key}`);
    const head = await headWithMetadata(deps, bucket.id, found, key);
    const conditional = conditionalRead(req, head);
    if (conditional) {
      setObjectHeaders(res, head, OBJECT_BYTES);
      if (conditional === 412)
        throw new ApiError('PRECONDITION_FAILED', 'the object does not match the request conditions', [{ field: 'if-match', problem: 'precondition failed' }]);
      return void res.status(304).end();
    }
    const asked = requestedRange(req, head.size);
    if (asked === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${head.size}`);
      throw new ApiError('RANGE_NOT_SATISFIABLE', 'range: is outside the object', [{ field: 'range', problem: 'is outside the object' }]);
    }
    const range = asked ?? undefined;
    setObjectHeaders(res, head, OBJECT_BYTES);
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${head.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.setHeader('Content-Length', String(head.size));
    }
    if (!withBody) return void res.end();
    const got = await deps.lake.get(bucket.name, key, range);
    if (!got) throw ApiError.notFound(`object ${key}`);
    const sent = await sendBody(got.body, res);
    // Headers are out, so there is no error to answer: the client sees a short body.
    if (sent.ended === 'client-gone') deps.log.info({ ...logFields(res), key }, 'the client closed the connection mid-download');
    else if (sent.ended === 'source-failed')
      deps.log.warn({ err: sent.err, ...logFields(res), key }, 'reading the object failed mid-download; the response was cut short');
  };

  r.on('head', (req, res) => read(req, res, false));
  r.on('get', (req, res) => read(req, res, true));

  r.on('delete', async (req, res) => {
    const key = objectKey(req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    await deps.lake.delete(bucket.name, key);
    await recordRemoval(deps, bucket, key);
    res.status(204).end();
  });

  return r.router();
}
