import type { RequestHandler } from 'express';
import { httpDuration, httpRequests } from './registry.js';

/**
 * Counts and times every API request by its route pattern (`/:bucket/sources/:sourceId`),
 * never the raw path, so the label set stays small whatever keys and ids clients send.
 */
export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    const end = httpDuration.startTimer();
    res.once('finish', () => {
      // req.route is the matched route (left in place after routing); its path is the full pattern because routers mount at /.
      // An S3 request is labelled by its operation (`s3:PutObject`), which api/s3/dispatch.ts records.
      const s3 = res.locals.s3Operation as string | undefined;
      const route = s3 ? `s3:${s3}` : typeof req.route?.path === 'string' ? req.route.path : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      httpRequests.inc(labels);
      end(labels);
    });
    next();
  };
}
