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

/**
 * A PATCH body's version of a settings object: every field optional and
 * without its default (`.partial()` keeps defaults, which would quietly reset
 * every field the request did not name).
 */
export function patchOf<T extends z.ZodRawShape>(schema: z.ZodObject<T>): ReturnType<z.ZodObject<T>['partial']> {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([k, v]) => [k, (v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType)).optional()]),
  );
  return z.object(shape) as unknown as ReturnType<z.ZodObject<T>['partial']>;
}
