import type { Request, Router } from 'express';
import { and, asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { isSettledRun } from '../../domain/statuses.js';
import { lookup } from 'mime-types';
import { OBJECT_STATUS as S, RUN_STATUS } from '../../catalog/index.js';
import { objectPipelineRuns, pipelines, sourceObjects, sources } from '../../db/schema.js';
import { listPrefixProblem } from '../../lake/keys.js';
import { listObjectPage } from '../object-listing.js';
import { checkedKey } from './byte-plane.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { recordRemoval } from '../push-source.js';
import { headWithMetadata, metadataJson } from '../object-metadata.js';
import { millis } from '../serialize.js';
import { DEFAULT_URL_SECONDS, MAX_URL_SECONDS } from '../../domain/signed-urls.js';
import { parseQuery } from '../validate.js';
import { findBucket } from './lookup.js';
import { publicOrigin } from '../public-origin.js';
import { loadRouting } from '../../db/routing.js';
import { defineRoutes, routesOf } from '../route.js';
import { Empty } from '../contract/common.js';
import { ObjectInfo, ObjectList, ObjectUrl, type ObjectEntry, type PipelineRunState } from '../contract/objects.js';

export const ListQuery = z
  .object({
    prefix: text()
      .max(1024)
      .superRefine((p, ctx) => {
        const problem = listPrefixProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default(''),
    delimiter: text().min(1).max(16).optional(),
    max_keys: z.coerce.number().int().min(1).max(1000).default(1000),
    continuation_token: text().max(4096).optional(),
  })
  .strict();

export const UrlQuery = z.object({ expires_in_seconds: z.coerce.number().int().min(1).default(DEFAULT_URL_SECONDS) }).strict();

export const OBJECT_ROUTES = defineRoutes({
  list: {
    method: 'get',
    route: '/:bucket/objects',
    summary: 'ListObjects (prefix, delimiter, max_keys, continuation_token)',
    scope: 'read',
    query: ListQuery,
    responses: { 200: { body: ObjectList } },
  },
  info: {
    method: 'get',
    route: '/:bucket/objects/:key/info',
    summary: 'GetObjectInfo: metadata, provenance, index status',
    scope: 'read',
    responses: { 200: { body: ObjectInfo } },
  },
  delete: { method: 'delete', route: '/:bucket/objects/:key', summary: 'DeleteObject (admin path)', scope: 'write', responses: { 200: { body: Empty } } },
  url: {
    method: 'get',
    route: '/:bucket/objects/:key/url',
    summary: 'GetObjectUrl: a signed URL (default 3600 s, at most 86400 s)',
    scope: 'read',
    query: UrlQuery,
    responses: { 200: { body: ObjectUrl } },
  },
});

const keyParam = (req: Request): string => checkedKey(req.params.key as string);

/** K3's admin / metadata routes under /:bucket/objects. */
export function objectRoutes(deps: ApiDeps): Router {
  const r = routesOf(OBJECT_ROUTES);

  /** ListObjects: S3 semantics (prefix, delimiter, max_keys counting keys and common prefixes), an opaque signed continuation token. */
  r.on('list', async (req, res) => {
    const q = parseQuery(ListQuery, req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const scope = `objects:${bucket.id}:${q.prefix}:${q.delimiter ?? ''}`;
    const resume = deps.pageTokens.decode(scope, q.continuation_token, 'continuation_token');
    const page = await listObjectPage(deps.lake, bucket.name, { prefix: q.prefix, delimiter: q.delimiter, resume, maxKeys: q.max_keys });
    // Listings carry no stored content type; the extension's is the best answer short of a HEAD per key.
    const objects: ObjectEntry[] = page.objects.map((o) => ({
      bucket: bucket.name,
      key: o.key,
      size: String(o.size),
      etag: `"${o.etag}"`,
      lastModified: millis(o.lastModified),
      contentType: o.contentType ?? (lookup(o.key) || 'application/octet-stream'),
    }));
    const { commonPrefixes, truncated, last } = page;
    res.json({
      objects,
      commonPrefixes,
      isTruncated: truncated,
      nextContinuationToken: truncated && last !== null ? deps.pageTokens.encode(scope, last) : '',
      keyCount: objects.length + commonPrefixes.length,
    });
  });

  /** GetObjectInfo: the lake's metadata plus where the object came from and its ingestion state. */
  r.on('info', async (req, res) => {
    const key = keyParam(req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const found = await deps.lake.head(bucket.name, key);
    if (!found) throw ApiError.notFound(`object ${key}`);
    const head = await headWithMetadata(deps, bucket.id, found, key);
    const [origin] = await deps.db
      .select({ object: sourceObjects, source: sources })
      .from(sourceObjects)
      .innerJoin(sources, eq(sources.id, sourceObjects.sourceId))
      .where(and(eq(sources.bucketId, bucket.id), eq(sourceObjects.lakeKey, key)))
      .orderBy(desc(sourceObjects.updatedAt))
      .limit(1);
    const status = origin?.object.status ?? 'unknown';
    const runs = origin
      ? await deps.db
          .select({ run: objectPipelineRuns, name: pipelines.name, kind: pipelines.kind })
          .from(objectPipelineRuns)
          .innerJoin(pipelines, eq(pipelines.id, objectPipelineRuns.pipelineId))
          .where(eq(objectPipelineRuns.objectId, origin.object.id))
          .orderBy(asc(pipelines.name))
      : [];
    const indexStatus: Record<string, PipelineRunState> = Object.fromEntries(
      runs.map(({ run, name, kind }) => [
        run.pipelineId,
        { name, kind, status: run.status, detail: run.detail, error: run.error, attempts: run.attempts, jobId: run.jobId, updatedAt: millis(run.updatedAt) },
      ]),
    );
    // What its rules select now; a selected pipeline that has not run on this content yet is pending.
    const routing = origin ? await loadRouting(deps, bucket.id) : null;
    // Only stored (or re-owed) objects run through pipelines; deleted or dead ones never will.
    const selected = origin && routing && (status === S.ingested || status === S.pending) ? routing.route({ sourceId: origin.source.id, lakeKey: key }) : [];
    const current = new Map(runs.filter(({ run }) => run.etag === origin?.object.ingestedEtag).map(({ run }) => [run.pipelineId, run.status]));
    for (const p of selected) {
      if (current.has(p)) continue;
      const pipeline = routing!.pipelines.get(p)!;
      indexStatus[p] = {
        name: pipeline.name,
        kind: pipeline.kind,
        status: RUN_STATUS.pending,
        detail: null,
        error: null,
        attempts: 0,
        jobId: origin?.object.processJobId ?? null,
        updatedAt: null,
      };
    }
    // Indexed: stored, with every pipeline its rules select done for this content.
    const indexed = status === S.ingested && origin?.object.processJobId == null && selected.every((p) => isSettledRun(current.get(p)));
    res.json({
      bucket: bucket.name,
      key,
      size: String(head.size),
      etag: `"${head.etag}"`,
      contentType: head.contentType ?? 'application/octet-stream',
      ...metadataJson(head),
      lastModified: millis(head.lastModified),
      source: origin
        ? { sourceId: origin.source.id, name: origin.source.name, kind: origin.source.kind, sourceKey: origin.object.key, sourceEtag: origin.object.etag }
        : null,
      sourceObjectId: origin?.object.id ?? null,
      jobId: origin?.object.lastJobId ?? null,
      ingestionStatus: status === S.ingested ? 'INGESTED' : status === S.pending ? 'PENDING' : status === S.dead ? 'FAILED' : 'UNKNOWN',
      ingestedAt: origin?.object.ingestedAt ? millis(origin.object.ingestedAt) : null,
      contentHash: origin?.object.contentHash ?? null,
      processingStatus: status !== S.ingested ? null : origin?.object.processJobId ? 'PROCESSING' : 'PROCESSED',
      indexStatus,
      indexed,
    });
  });

  /** DeleteObject (admin path): the same removal as the byte-plane DELETE. */
  r.on('delete', async (req, res) => {
    const key = keyParam(req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    if (!(await deps.lake.head(bucket.name, key))) throw ApiError.notFound(`object ${key}`);
    await deps.lake.delete(bucket.name, key);
    await recordRemoval(deps, bucket, key);
    res.json({});
  });

  /** GetObjectUrl: a signed URL, 3600 s by default, never more than 86400 s. */
  r.on('url', async (req, res) => {
    const q = parseQuery(UrlQuery, req);
    const key = keyParam(req);
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    if (!(await deps.lake.head(bucket.name, key))) throw ApiError.notFound(`object ${key}`);
    const signed = deps.urlSigner.sign(publicOrigin(req, deps.publicUrl), bucket, key, Math.min(q.expires_in_seconds, MAX_URL_SECONDS));
    res.json({ url: signed.url, expiresAt: String(signed.expiresAt) });
  });

  return r.router();
}
