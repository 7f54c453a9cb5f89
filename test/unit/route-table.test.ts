/**
 * The route table is the one description of the API: the app registers
 * exactly its routes, /openapi.json documents exactly them with their
 * response schemas, and the serialisers answer in the documented shapes.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { createApp } from '../../api/app.js';
import { Authenticator } from '../../api/auth.js';
import type { ApiDeps } from '../../api/deps.js';
import { ROUTES, requiredScope } from '../../api/route-table.js';
import { defineRoutes, routesOf } from '../../api/route.js';
import { Bucket, Job, Pipeline, Rule, Source } from '../../api/contract/index.js';
import { bucketJson, jobJson, pipelineJson, ruleJson, sourceJson } from '../../api/serialize.js';
import { MixpeekSync } from '../../api/contract/mixpeek.js';
import { mixpeekSyncJson } from '../../api/mixpeek-sync.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** Every route the app's routers hold, as `METHOD /openapi/{path}`. */
function registered(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) for (const m of Object.keys(layer.route.methods)) found.push(`${m.toUpperCase()} ${layer.route.path.replace(/[:*](\w+)/g, '{$1}')}`);
      else if (layer.handle.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return found;
}

describe('route table', () => {
  // Building the app touches none of its services: only the auth settings and the logger are read.
  const deps = { auth: new Authenticator({ secret: 'x'.repeat(32), orgClaim: 'org' }), log: pino({ level: 'silent' }) } as unknown as ApiDeps;
  const app = createApp(deps);
  let server: Server;
  let doc: { paths: Record<string, Record<string, { 'x-required-scope'?: string; responses: Record<string, { content?: Record<string, unknown> }> }>> };

  beforeAll(async () => {
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    doc = (await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`)).json()) as typeof doc;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const documented = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

  it('the app registers exactly the routes the served document describes, in the table’s order', () => {
    const routes = registered(app);
    expect(routes.length).toBeGreaterThan(40);
    expect(new Set(routes).size).toBe(routes.length);
    expect(routes).toEqual(ROUTES.map((op) => `${op.method.toUpperCase()} ${op.path}`));
    expect([...routes].sort()).toEqual(documented().sort());
  });

  it('documents each route’s scope as the table has it and a response for each success it answers', () => {
    for (const op of ROUTES) {
      const described = doc.paths[op.path]![op.method]!;
      expect(described['x-required-scope'], `${op.method} ${op.path}`).toBe(op.scope ?? undefined);
      for (const [status, r] of Object.entries(op.responses)) {
        expect(described.responses[status], `${op.method} ${op.path} ${status}`).toBeTruthy();
        if (r.body) expect(described.responses[status]!.content?.['application/json'], `${op.method} ${op.path} ${status}`).toBeTruthy();
      }
    }
    // A resource's schema is written once, as a component, and referenced.
    expect(JSON.stringify(doc.paths['/{bucket}/sources/{sourceId}']!.get!.responses['200'])).toContain('#/components/schemas/Source');
  });

  it('the scope check asks each route for the scope the table gives it', () => {
    for (const op of ROUTES.filter((o) => o.scope !== null)) {
      const path = op.path.replace(/\{(\w+)\}/g, (_, n: string) => `${n}-1`);
      expect(requiredScope({ method: op.method.toUpperCase(), path }), `${op.method} ${op.path}`).toBe(op.scope);
    }
  });

  it('refuses a table route left without a handler, or given two', () => {
    const specs = defineRoutes({
      a: { method: 'get', route: '/a', summary: 'a', scope: 'read', responses: { 204: {} } },
      b: { method: 'get', route: '/b', summary: 'b', scope: 'read', responses: { 204: {} } },
    });
    const half = routesOf(specs);
    half.on('a', (_req, res) => void res.status(204).end());
    expect(() => half.router()).toThrow('route GET /b (b) has no handler');
    expect(() => half.on('a', () => undefined)).toThrow('route a has two handlers');
  });
});

describe('serialisers answer in the documented shapes, and nothing more', () => {
  const at = new Date('2024-01-02T03:04:05.678Z');
  it('bucket, source (lakesync’s and Mixpeek’s views), job, pipeline and rule', () => {
    expect(Bucket.strict().parse(bucketJson({ id: 'bkt_1', orgId: 'o', name: 'kb', createdAt: at }))).toMatchObject({ createdAt: at.toISOString() });
    const source = {
      id: 'src_1',
      bucketId: 'bkt_1',
      name: 's',
      kind: 's3' as const,
      connection: { s3: { region: 'us-east-1', bucket: 'abc', prefix: '', forcePathStyle: true } },
      sealedCredentials: 'sealed',
      syncMode: 'continuous' as const,
      syncIntervalSeconds: 60,
      batchSize: 10,
      targetPrefix: '',
      maxObjectsPerRun: 100,
      shards: null,
      skipDuplicates: false,
      filters: {},
      reconcile: {},
      notifications: { mode: 'off' as const },
      sealedNotificationToken: null,
      status: 'SOURCE_STATUS_ACTIVE' as const,
      paused: false,
      pauseReason: null,
      pausedAt: null,
      lastSyncAt: at,
      lastSuccessAt: null,
      nextSyncAt: null,
      lastError: null,
      consecutiveFailures: 0,
      suspendAfterFailures: 5,
      workflowId: 'w',
      currentJobId: null,
      lastJobId: null,
      scanPass: 0,
      totalObjectsDiscovered: 1,
      totalObjectsSynced: 1,
      totalObjectsFailed: 0,
      totalBytesSynced: 3,
      pausedBy: null,
      pauseChangedAt: null,
      createdBy: 'alice',
      runCounter: 2,
      batchesCreated: 1,
      createdAt: at,
      updatedAt: at,
    };
    expect(Source.strict().parse(sourceJson(source, 'kb', null)).s3).toEqual({
      region: 'us-east-1',
      bucket: 'abc',
      prefix: '',
      forcePathStyle: true,
      credentialsSet: true,
    });
    // Mixpeek's view of the same row: its status names, the source's place as bucket/prefix, defaults where lakesync keeps nothing.
    expect(MixpeekSync.strict().parse(mixpeekSyncJson({ ...source, status: 'SOURCE_STATUS_PAUSED', paused: true }, 'kb', 'o', null))).toMatchObject({
      bucket_id: 'kb',
      internal_id: 'o',
      source_path: 'abc',
      status: 'SUSPENDED',
      is_active: false,
      created_by_user_id: 'alice',
      last_sync_at: null,
      sync_run_counter: 2,
      file_filters: { include_patterns: [], min_size_bytes: null, metadata_filters: [] },
      reconcile: { on_delete: true, on_update: true, on_filter_drift: true },
    });
    const gcs = { ...source, kind: 'gcs' as const, connection: { gcs: { bucket: 'photos', prefix: '2024/' } }, status: 'SOURCE_STATUS_COMPLETED' as const };
    expect(mixpeekSyncJson(gcs, 'kb', 'o', { cursor: '2024/b.jpg', listed: 7 })).toMatchObject({
      source_path: 'photos/2024/',
      source_type: 'gcs',
      status: 'COMPLETED',
      is_active: true,
      resume_cursor: '2024/b.jpg',
      current_cursor: '2024/b.jpg',
      resume_objects_processed: 7,
    });
    const counters = Object.fromEntries(
      'objectsListed pagesListed objectsNew objectsChanged objectsDeferred objectsDiscovered objectsProcessed objectsIndexed objectsFailed objectsSkipped objectsDeleted objectsRemoved bytesTransferred'
        .split(' ')
        .map((k) => [k, 0]),
    );
    const job = {
      id: 'job_1',
      bucketId: 'bkt_1',
      sourceId: 'src_1',
      kind: 'discovery' as const,
      trigger: 'api' as const,
      status: 'JOB_STATUS_RUNNING',
      fullSync: false,
      retryFailed: false,
      dryRun: false,
      sourceObjectId: null,
      ruleId: null,
      scanPass: null,
      scanCursor: null,
      error: null,
      workflowId: 'w',
      runId: null,
      createdAt: at,
      startedAt: at,
      finishedAt: null,
      ...counters,
    } as Parameters<typeof jobJson>[0];
    expect(Job.strict().parse(jobJson(job, 'kb'))).toMatchObject({ jobId: 'job_1', bucket: 'kb', finishedAt: null });
    const pipeline = {
      id: 'pipe_1',
      bucketId: 'bkt_1',
      name: 'p',
      kind: 'webhook' as const,
      config: { webhook: { url: 'https://hooks.example.test/x', timeoutSeconds: 10, maxAttempts: 5, urlExpiresInSeconds: 3600 } },
      sealedSecret: 'sealed',
      enabled: true,
      createdAt: at,
      updatedAt: at,
    };
    expect(Pipeline.strict().parse(pipelineJson(pipeline, 'kb')).webhook).toMatchObject({ secretSet: true });
    const rule = { id: 'rule_1', bucketId: 'bkt_1', name: 'r', pipelineIds: ['pipe_1'], match: {}, enabled: true, createdAt: at, updatedAt: at };
    expect(Rule.strict().parse(ruleJson(rule, 'kb'))).toMatchObject({ ruleId: 'rule_1', pipelineIds: ['pipe_1'] });
  });
});
