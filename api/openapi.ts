/**
 * GET /openapi.json: the API described from the same zod schemas that
 * validate requests, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { PaginationQuery } from './pagination.js';
import { BucketName } from './routes/buckets.js';
import { JobsQuery } from './routes/jobs.js';
import { ListQuery as ObjectListQuery, UrlQuery as ObjectUrlQuery } from './routes/objects.js';
import { HistoryQuery as UploadHistoryQuery, ListQuery as UploadListQuery, StartBody as StartUploadBody } from './routes/uploads.js';
import { CreatePipeline, CreateRule, SearchBody, UpdatePipeline, UpdateRule } from './routes/pipeline-schemas.js';
import { DeleteQuery as SourceDeleteQuery } from './routes/sources.js';
import { CreateSource, DiscoverBody, IngestBody, PauseBody, UpdateSource } from './routes/source-schemas.js';

interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete' | 'put' | 'head';
  path: string;
  summary: string;
  scope: 'read' | 'write' | 'admin' | null;
  body?: z.ZodType;
  query?: z.ZodType;
  created?: boolean;
}

const bucketParam = { name: 'bucket', in: 'path', required: true, schema: { type: 'string' } };
const sourceParam = { name: 'sourceId', in: 'path', required: true, schema: { type: 'string' } };
const jobParam = { name: 'jobId', in: 'path', required: true, schema: { type: 'string' } };
const keyParam = { name: 'key', in: 'path', required: true, description: 'object key; URL-encode / as %2F on /objects routes', schema: { type: 'string' } };
const pipelineParam = { name: 'pipelineId', in: 'path', required: true, schema: { type: 'string' } };
const ruleParam = { name: 'ruleId', in: 'path', required: true, schema: { type: 'string' } };
const syncParam = { name: 'syncId', in: 'path', required: true, schema: { type: 'string' } };

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Health of the API, Postgres and Temporal', scope: null },
  { method: 'post', path: '/admin/buckets', summary: 'Create a lake bucket', scope: 'admin', body: z.object({ name: BucketName }).strict(), created: true },
  { method: 'get', path: '/admin/buckets', summary: "List the organisation's buckets", scope: 'admin', query: PaginationQuery },
  { method: 'get', path: '/admin/buckets/{bucket}', summary: 'Get a lake bucket', scope: 'admin' },
  { method: 'delete', path: '/admin/buckets/{bucket}', summary: 'Delete an empty lake bucket (no sources, no objects)', scope: 'admin' },
  {
    method: 'post',
    path: '/{bucket}/sources',
    summary: 'Create a source and start its controller workflow',
    scope: 'write',
    body: CreateSource,
    created: true,
  },
  { method: 'get', path: '/{bucket}/sources', summary: 'List sources', scope: 'read', query: PaginationQuery },
  { method: 'get', path: '/{bucket}/sources/{sourceId}', summary: 'Get a source', scope: 'read' },
  { method: 'patch', path: '/{bucket}/sources/{sourceId}', summary: 'Update a source (optional-update semantics)', scope: 'write', body: UpdateSource },
  {
    method: 'delete',
    path: '/{bucket}/sources/{sourceId}',
    summary: 'Stop its workflows and delete a source; purge=true also removes its lake objects (202)',
    scope: 'write',
    query: SourceDeleteQuery,
  },
  { method: 'post', path: '/{bucket}/sources/{sourceId}/pause', summary: 'Pause a source', scope: 'write', body: PauseBody },
  { method: 'post', path: '/{bucket}/sources/{sourceId}/resume', summary: 'Resume a paused or suspended source', scope: 'write', body: z.object({}).strict() },
  {
    method: 'post',
    path: '/{bucket}/sources/{sourceId}/discover',
    summary: 'TriggerDiscovery: delta or full scan, or a dry run',
    scope: 'write',
    body: DiscoverBody,
  },
  { method: 'post', path: '/{bucket}/sources/{sourceId}/ingest', summary: 'TriggerIngestion: owed, failed or one object', scope: 'write', body: IngestBody },
  { method: 'get', path: '/{bucket}/sources/{sourceId}/sync', summary: 'GetSyncStatus', scope: 'read' },
  { method: 'get', path: '/{bucket}/sources/{sourceId}/dead-letters', summary: 'Dead-lettered objects', scope: 'read', query: PaginationQuery },
  { method: 'get', path: '/{bucket}/jobs', summary: 'List jobs, newest first', scope: 'read', query: JobsQuery },
  { method: 'get', path: '/{bucket}/jobs/{jobId}', summary: 'Get a job with its failed objects', scope: 'read' },
  { method: 'get', path: '/{bucket}/objects', summary: 'ListObjects (prefix, delimiter, max_keys, continuation_token)', scope: 'read', query: ObjectListQuery },
  { method: 'get', path: '/{bucket}/objects/{key}/info', summary: 'GetObjectInfo: metadata, provenance, index status', scope: 'read' },
  { method: 'delete', path: '/{bucket}/objects/{key}', summary: 'DeleteObject (admin path)', scope: 'write' },
  {
    method: 'get',
    path: '/{bucket}/objects/{key}/url',
    summary: 'GetObjectUrl: a signed URL (default 3600 s, at most 86400 s)',
    scope: 'read',
    query: ObjectUrlQuery,
  },
  { method: 'post', path: '/{bucket}/uploads', summary: 'Start an upload sync (FULL or INCREMENTAL)', scope: 'write', body: StartUploadBody, created: true },
  { method: 'post', path: '/{bucket}/uploads/{syncId}/files', summary: 'Upload files (multipart/form-data, one or many)', scope: 'write' },
  { method: 'post', path: '/{bucket}/uploads/{syncId}/end', summary: 'End an upload sync', scope: 'write' },
  { method: 'post', path: '/{bucket}/uploads/{syncId}/restore', summary: 'Restore what ending a FULL sync moved to trash', scope: 'write' },
  { method: 'get', path: '/{bucket}/uploads', summary: 'List upload syncs (from, size)', scope: 'read', query: UploadListQuery },
  { method: 'get', path: '/{bucket}/uploads/history', summary: 'Uploaded-file history (from, size, syncId)', scope: 'read', query: UploadHistoryQuery },
  { method: 'post', path: '/{bucket}/pipelines', summary: 'Create a pipeline (fulltext or webhook)', scope: 'write', body: CreatePipeline, created: true },
  { method: 'get', path: '/{bucket}/pipelines', summary: 'List pipelines', scope: 'read', query: PaginationQuery },
  { method: 'get', path: '/{bucket}/pipelines/{pipelineId}', summary: 'Get a pipeline (never its secret)', scope: 'read' },
  {
    method: 'patch',
    path: '/{bucket}/pipelines/{pipelineId}',
    summary: 'Update a pipeline; re-enabling or changing fulltext settings back-fills',
    scope: 'write',
    body: UpdatePipeline,
  },
  { method: 'delete', path: '/{bucket}/pipelines/{pipelineId}', summary: 'Delete a pipeline no rule uses, with what it indexed', scope: 'write' },
  {
    method: 'post',
    path: '/{bucket}/rules',
    summary: 'Create a rule; back-fills the stored objects it selects',
    scope: 'write',
    body: CreateRule,
    created: true,
  },
  { method: 'get', path: '/{bucket}/rules', summary: 'List rules', scope: 'read', query: PaginationQuery },
  { method: 'get', path: '/{bucket}/rules/{ruleId}', summary: 'Get a rule', scope: 'read' },
  {
    method: 'patch',
    path: '/{bucket}/rules/{ruleId}',
    summary: 'Update a rule; a changed selection is purged and back-filled',
    scope: 'write',
    body: UpdateRule,
  },
  { method: 'delete', path: '/{bucket}/rules/{ruleId}', summary: 'Delete a rule and what only its pipelines held', scope: 'write' },
  {
    method: 'post',
    path: '/{bucket}/search',
    summary: 'Full-text search over fulltext pipelines: ranked keys with highlighted snippets',
    scope: 'read',
    body: SearchBody,
  },
  { method: 'put', path: '/{bucket}/{key}', summary: 'Byte plane: upload an object (raw body, streamed); it is then ingested', scope: 'write' },
  { method: 'get', path: '/{bucket}/{key}', summary: 'Byte plane: download (Range, conditional requests; or a signed URL without a token)', scope: 'read' },
  { method: 'head', path: '/{bucket}/{key}', summary: 'Byte plane: S3 metadata headers', scope: 'read' },
  { method: 'delete', path: '/{bucket}/{key}', summary: 'Byte plane: delete an object', scope: 'write' },
];

const ERROR = {
  type: 'object',
  required: ['code', 'message', 'details'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    details: {
      type: 'array',
      items: { type: 'object', required: ['field', 'problem'], properties: { field: { type: 'string' }, problem: { type: 'string' } } },
    },
  },
};

const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

function queryParameters(schema: z.ZodType) {
  const s = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({ name, in: 'query', required: s.required?.includes(name) ?? false, schema: prop }));
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [
      ...(op.path.includes('{bucket}') ? [bucketParam] : []),
      ...(op.path.includes('{sourceId}') ? [sourceParam] : []),
      ...(op.path.includes('{jobId}') ? [jobParam] : []),
      ...(op.path.includes('{pipelineId}') ? [pipelineParam] : []),
      ...(op.path.includes('{ruleId}') ? [ruleParam] : []),
      ...(op.path.includes('{key}') ? [keyParam] : []),
      ...(op.path.includes('{syncId}') ? [syncParam] : []),
      ...(op.query ? queryParameters(op.query) : []),
    ];
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.scope ? { security: [{ bearer: [op.scope] }], 'x-required-scope': op.scope } : { security: [] }),
      parameters: params,
      ...(op.body ? { requestBody: { required: false, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      responses: {
        [op.created ? '201' : op.method === 'delete' ? '204' : '200']: { description: 'Success' },
        '400': {
          description: 'Invalid input: the field and the problem are named',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        ...(op.scope ? { '401': { description: 'Missing or invalid bearer token' }, '403': { description: 'Token lacks the scope' } } : {}),
        '404': { description: 'Not found (also: another organisation’s resource)' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'lakesync', version: '0.1.0', description: 'Durable sync orchestrator: sources, discovery, ingestion and sync status (K3 conventions).' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }, schemas: { Error: ERROR } },
    paths,
  };
}
