import type { Router } from 'express';
import { and, asc, count, eq, gt, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { buckets, serviceAccountKeys } from '../../db/schema.js';
import { text } from '../../domain/text.js';
import { callerOf } from '../auth.js';
import { CreatedServiceAccountKey, ServiceAccountKey, ServiceAccountKeyList } from '../contract/keys.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { PaginationQuery, pageById } from '../pagination.js';
import { defineRoutes, routesOf } from '../route.js';
import { serviceAccountKeyJson } from '../serialize.js';
import { newAccessKeyId, newSecretAccessKey, sealKeySecret } from '../service-keys.js';
import { parseBody, parseQuery } from '../validate.js';
import { BucketName } from './buckets.js';

const distinct = (values: string[]) => new Set(values).size === values.length;

const CreateKey = z
  .object({
    scopes: z
      .array(z.enum(['read', 'write', 'admin']))
      .min(1, 'must name at least one scope')
      .refine(distinct, 'must not repeat a scope'),
    /** Left out: every bucket of the organisation, present and future. */
    buckets: z
      .array(BucketName)
      .min(1, 'must name at least one bucket (leave it out for every bucket)')
      .max(100, 'must name at most 100 buckets')
      .refine(distinct, 'must not repeat a bucket')
      .optional(),
    description: text('multiline').max(1000, 'must be at most 1000 characters').optional(),
  })
  .strict()
  // The admin routes are organisation-wide: a bucket-limited admin key could mint an unlimited one.
  .refine((k) => !(k.buckets && k.scopes.includes('admin')), {
    path: ['buckets'],
    message: 'cannot limit a key with the admin scope: admin acts on the whole organisation',
  });

export const KEY_ROUTES = defineRoutes({
  create: {
    method: 'post',
    route: '/admin/keys',
    summary: 'Create a service-account key (its secret is in this answer only)',
    scope: 'admin',
    body: CreateKey,
    responses: { 201: { body: CreatedServiceAccountKey } },
  },
  list: {
    method: 'get',
    route: '/admin/keys',
    summary: "List the organisation's service-account keys that are not revoked (never their secrets)",
    scope: 'admin',
    query: PaginationQuery,
    responses: { 200: { body: ServiceAccountKeyList } },
  },
  get: {
    method: 'get',
    route: '/admin/keys/:accessKeyId',
    summary: 'Get a service-account key (never its secret)',
    scope: 'admin',
    responses: { 200: { body: ServiceAccountKey } },
  },
  revoke: {
    method: 'delete',
    route: '/admin/keys/:accessKeyId',
    summary: 'Revoke a service-account key, at once and for good',
    scope: 'admin',
    responses: { 204: {} },
  },
});

const active = (org: string) => and(eq(serviceAccountKeys.orgId, org), isNull(serviceAccountKeys.revokedAt));

export function keyRoutes(deps: ApiDeps): Router {
  const r = routesOf(KEY_ROUTES);
  r.on('create', async (req, res) => {
    const body = parseBody(CreateKey, req);
    const org = callerOf(res).org;
    if (body.buckets) {
      const held = await deps.db
        .select({ name: buckets.name })
        .from(buckets)
        .where(and(eq(buckets.orgId, org), inArray(buckets.name, body.buckets)));
      const names = new Set(held.map((b) => b.name));
      // Another organisation's bucket reads exactly as a name no bucket has.
      const missing = body.buckets.findIndex((name) => !names.has(name));
      if (missing >= 0) throw ApiError.invalid(`buckets.${missing}`, 'names no bucket of this organisation');
    }
    const id = newAccessKeyId();
    const secret = newSecretAccessKey();
    const [row] = await deps.db
      .insert(serviceAccountKeys)
      .values({
        id,
        orgId: org,
        sealedSecret: sealKeySecret(deps.secrets, id, secret),
        scopes: body.scopes,
        buckets: body.buckets ?? null,
        description: body.description ?? null,
      })
      .returning();
    // The secret is in this answer only: no cache along the way may keep it.
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ ...serviceAccountKeyJson(row!), secretAccessKey: secret });
  });
  r.on('list', async (req, res) => {
    const q = parseQuery(PaginationQuery, req);
    const org = callerOf(res).org;
    const { page, ...rest } = await pageById(
      deps.pageTokens,
      `keys:${org}`,
      q,
      (after, limit) =>
        deps.db
          .select()
          .from(serviceAccountKeys)
          .where(and(active(org), after ? gt(serviceAccountKeys.id, after) : undefined))
          .orderBy(asc(serviceAccountKeys.id))
          .limit(limit),
      async () => (await deps.db.select({ n: count() }).from(serviceAccountKeys).where(active(org)))[0]?.n ?? 0,
    );
    res.json({ keys: page.map(serviceAccountKeyJson), ...rest });
  });
  r.on('get', async (req, res) => {
    const [row] = await deps.db
      .select()
      .from(serviceAccountKeys)
      .where(and(active(callerOf(res).org), eq(serviceAccountKeys.id, req.params.accessKeyId)));
    if (!row) throw ApiError.notFound(`key ${req.params.accessKeyId}`);
    res.json(serviceAccountKeyJson(row));
  });
  /** The row stays, without its secret, so the id is never issued again; findActiveKey refuses it from this statement on. */
  r.on('revoke', async (req, res) => {
    const [row] = await deps.db
      .update(serviceAccountKeys)
      .set({ revokedAt: new Date(), sealedSecret: null })
      .where(and(active(callerOf(res).org), eq(serviceAccountKeys.id, req.params.accessKeyId)))
      .returning({ id: serviceAccountKeys.id });
    if (!row) throw ApiError.notFound(`key ${req.params.accessKeyId}`);
    res.status(204).end();
  });
  return r.router();
}
