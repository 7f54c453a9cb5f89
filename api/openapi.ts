/**
 * GET /openapi.json: the route table described with the same zod schemas
 * that validate requests and type responses, so the document cannot drift
 * from the code. zod-openapi renders request schemas as their input and
 * response schemas as their output.
 */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { z } from 'zod';
import { text } from '../domain/text.js';
import { ErrorBody } from './contract/common.js';
import { DataInsiderError } from './contract/datainsider.js';
import { MixpeekError } from './contract/mixpeek.js';
import { ROUTES, type Operation } from './route-table.js';
import type { ResponseSpec } from './route.js';

/** Path parameters by name; any other is plain text. */
const PARAMS: Record<string, z.ZodType> = {
  key: text().meta({ description: 'object key; URL-encode / as %2F on /objects routes' }),
};

const SUCCESS: Record<number, string> = { 200: 'Success', 201: 'Created', 202: 'Accepted', 204: 'No content' };

const errorContent = { content: { 'application/json': { schema: ErrorBody } } };
const dataInsiderErrorContent = { content: { 'application/json': { schema: DataInsiderError } } };
const mixpeekErrorContent = { content: { 'application/json': { schema: MixpeekError } } };

function response(status: number, r: ResponseSpec) {
  const description = r.description ?? SUCCESS[status] ?? 'Success';
  if (r.body) return { description, content: { 'application/json': { schema: r.body } } };
  if (r.bytes) return { description, content: { [r.bytes]: { schema: { type: 'string' as const, format: 'binary' } } } };
  return { description };
}

function operationObject(op: Operation): ZodOpenApiOperationObject {
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, r] of Object.entries(op.responses)) responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] = response(Number(status), r);
  const errors = op.apiKey ? dataInsiderErrorContent : op.errors === 'mixpeek' ? mixpeekErrorContent : errorContent;
  Object.assign(responses, {
    '400': { description: 'Invalid input: the field and the problem are named', ...errors },
    ...(op.scope
      ? { '401': { description: 'Missing or invalid bearer token', ...errors }, '403': { description: 'Token lacks the scope', ...errors } }
      : op.apiKey
        ? {
            '401': { description: 'Missing, unknown or revoked api_key', ...errors },
            '403': { description: 'api_key lacks the scope or one bucket', ...errors },
          }
        : op.sourceToken
          ? { '401': { description: 'Missing or wrong webhook token for this source', ...errors } }
          : {}),
    '404': { description: 'Not found (also: another organisation’s resource)', ...errors },
  });
  // Any route may meet Postgres or Temporal down; /healthz describes its own 503.
  responses['503'] ??= { description: 'Postgres or Temporal is unavailable (named in the message); retry after Retry-After seconds', ...errors };
  return {
    summary: op.summary,
    ...(op.scope
      ? { security: [{ bearer: [op.scope] }], 'x-required-scope': op.scope }
      : op.apiKey
        ? { security: [{ apiKey: [op.apiKey] }], 'x-api-key-scope': op.apiKey }
        : op.sourceToken
          ? { security: [{ sourceToken: [] }] }
          : { security: [] }),
    requestParams: {
      ...(op.params.length > 0 ? { path: z.object(Object.fromEntries(op.params.map((name) => [name, PARAMS[name] ?? text()]))) } : {}),
      ...(op.query ? { query: op.query } : {}),
    },
    ...(op.body ? { requestBody: { required: false, content: { 'application/json': { schema: op.body } } } } : {}),
    responses,
  };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of ROUTES) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return createDocument({
    openapi: '3.1.0',
    info: { title: 'lakesync', version: '0.1.0', description: 'Durable sync orchestrator: sources, discovery, ingestion and sync status (K3 conventions).' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'DataInsider routes: a service-account key limited to one bucket, `<accessKeyId>.<secret>`, as `api_key` in the JSON body or as the bearer token',
        },
        sourceToken: {
          type: 'http',
          scheme: 'bearer',
          description: "Change notifications: the source's webhook token, issued once when its notifications mode became webhook (or rotateToken)",
        },
      },
    },
    paths,
  }) as unknown as Record<string, unknown>;
}
