import type { Router } from 'express';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageOwnedBy } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { bucketJson } from '../serialize.js';
import { Bucket, BucketList } from '../contract/buckets.js';
import { parseBody, parseQuery } from '../validate.js';
import { buckets } from '../../db/schema.js';
import { findBucket } from './lookup.js';
import { createBucket, deleteEmptyBucket } from '../bucket-lifecycle.js';

const RESERVED_BUCKET_NAMES = new Set(['admin', 'api', 'v1']);

/** Bucket names follow S3's rules so a lake bucket can map onto any S3 store. */
export const BucketName = text()
  .min(3, 'must be 3 to 63 characters')
  .max(63, 'must be 3 to 63 characters')
  .regex(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/, 'must be lowercase letters, digits and hyphens, starting and ending with a letter or digit')
  // `/admin/…`, `/api/…` (DataInsider's routes) and `/v1/…` (Mixpeek's) are the API's own; a bucket of such a name would shadow them.
  .refine((n) => !RESERVED_BUCKET_NAMES.has(n), 'is reserved');

const CreateBucket = z.object({ name: BucketName }).strict();

export const BUCKET_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/admin/buckets',
    summary: 'Create a lake bucket',
    scope: 'admin',
    body: CreateBucket,
    responses: { 201: { body: Bucket } },
  },
  list: {
    method: 'get',
    route: '/admin/buckets',
    summary: "List the organisation's buckets",
    scope: 'admin',
    query: PaginationQuery,
    responses: { 200: { body: BucketList } },
  },
  get: { method: 'get', route: '/admin/buckets/:bucket', summary: 'Get a lake bucket', scope: 'admin', responses: { 200: { body: Bucket } } },
  delete: {
    method: 'delete',
    route: '/admin/buckets/:bucket',
    summary: 'Delete an empty lake bucket (no sources, no objects)',
    scope: 'admin',
    responses: { 204: {} },
  },
});

export function bucketRoutes(deps: ApiDeps): Router {
  const r = routesOf(BUCKET_ROUTES);
  r.on('create', async (req, res) => {
    const body = parseBody(CreateBucket, req);
    const row = await createBucket(deps, callerOf(res).org, body.name);
    if (!row) throw ApiError.bucketNameTaken(body.name);
    res.status(201).json(bucketJson(row));
  });
  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const org = callerOf(res).org;
    const { page, ...rest } = await pageOwnedBy(deps, buckets, buckets.orgId, org, 'buckets', q);
    res.json({ buckets: page.map(bucketJson), ...rest });
  });
  r.on('get', async (req, res) => {
    res.json(bucketJson(await findBucket(deps, req.params.bucket, callerOf(res).org)));
  });
  /** Only an empty bucket is deleted (api/bucket-lifecycle.ts says why). */
  r.on('delete', async (req, res) => {
    const bucket = await findBucket(deps, req.params.bucket, callerOf(res).org);
    const refused = await deleteEmptyBucket(deps, bucket);
    if (refused?.refused === 'sourced')
      throw new ApiError(
        'FAILED_PRECONDITION',
        `bucket: ${bucket.name} still has ${refused.sources} source${refused.sources === 1 ? '' : 's'}; delete them first`,
        [{ field: 'bucket', problem: 'still has sources' }],
      );
    if (refused?.refused === 'not-empty')
      throw new ApiError('FAILED_PRECONDITION', `bucket: ${bucket.name} is not empty; delete its objects first`, [
        { field: 'bucket', problem: 'is not empty' },
      ]);
    res.status(204).end();
  });
  return r.router();
}
