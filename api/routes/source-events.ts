import type { Router } from 'express';
import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { buckets, sources } from '../../db/schema.js';
import { changeEvents, S3EventBody } from '../../domain/s3-events.js';
import { bearerToken } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { defineRoutes, routesOf } from '../route.js';
import { tokenMatches } from '../source-notifications.js';
import { parseBody } from '../validate.js';
import { acceptChangeEvents } from '../change-events.js';

const EventsAccepted = z
  .object({
    /** Events for keys of this source, recorded for a targeted run. */
    accepted: z.number().int(),
    /** Events for other buckets, outside the prefix, excluded by the filters' globs, or for directory markers. */
    ignored: z.number().int(),
  })
  .meta({ id: 'EventsAccepted' });

export const SOURCE_EVENT_ROUTES = defineRoutes({
  events: {
    method: 'post',
    route: '/:bucket/sources/:sourceId/events',
    summary: "S3 event notifications for a webhook source (MinIO's webhook target, AWS EventBridge or SNS), with the source's webhook token as the bearer",
    scope: null,
    sourceToken: true,
    body: S3EventBody,
    responses: { 202: { description: 'Recorded; a targeted run applies them within seconds', body: EventsAccepted } },
  },
});

const unauthenticated = (problem: string) => new ApiError('UNAUTHENTICATED', `authorization: ${problem}`, [{ field: 'authorization', problem }]);

export function sourceEventRoutes(deps: ApiDeps): Router {
  const r = routesOf(SOURCE_EVENT_ROUTES);

  r.on('events', async (req, res) => {
    const presented = bearerToken(req.headers.authorization);
    const [row] = await deps.db
      .select({ source: sources, bucketName: buckets.name })
      .from(sources)
      .innerJoin(buckets, eq(buckets.id, sources.bucketId))
      .where(and(eq(sources.id, req.params.sourceId), eq(buckets.name, req.params.bucket)));
    if (!row) throw ApiError.notFound(`source ${req.params.sourceId}`);
    const { source, bucketName } = row;
    if (!tokenMatches(source, presented, deps.secrets)) throw unauthenticated('is not the webhook token of this source');
    const parsed = changeEvents(parseBody(S3EventBody, req));
    if ('problem' in parsed) throw ApiError.invalid(parsed.problem.field, parsed.problem.problem);
    res.status(202).json(await acceptChangeEvents(deps, source, bucketName, parsed.events, parsed.undecodable));
  });

  return r.router();
}
