import type { Request } from 'express';
import { z } from 'zod';
import { ApiError, fromZod } from './errors.js';

/** Parses a JSON body; an absent body counts as `{}` so all-optional bodies may be omitted. */
export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (req.body === undefined && hasBody) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'body: must be sent as application/json', [{ field: 'body', problem: 'must be sent as application/json' }]);
  }
  const body: unknown = req.body === undefined ? {} : req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw ApiError.invalid('body', 'must be a JSON object');
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}
