/**
 * Pipelines through crashes: the worker is SIGKILLed twice while objects run
 * through a fulltext and a webhook pipeline; afterwards each object is indexed
 * once, delivered under one idempotency key, and the counters are exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { seededRandom } from '../support/seed.js';
import type { WorkerProcess } from '../../infra/worker-process.js';
import { syncThroughTwoKills } from '../support/pipeline-crash.js';

const SECRET = 'whsec-crash-0123456789abcdef';
const N = 1200;

describe('pipelines through worker crashes', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  const workers: { current?: WorkerProcess } = {};
  let dir: string;
  // Slow answers keep processing in flight long enough to be killed twice.
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  // Kill points: replay a failure with the seed this prints.
  const random = seededRandom('crash-pipelines.test.ts');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-crash-pipe-'));
    receiver = await startWebhookReceiver(SECRET, () => 200, 25);
  });
  afterAll(async () => {
    await workers.current?.kill('SIGKILL');
    await receiver?.stop();
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('indexes and delivers every object once across two SIGKILLs, with exact counters', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < N; i++) files.set(`notes-${i % 10}/note-${String(i).padStart(5, '0')}.txt`, Buffer.from(`note number w${i}x about herons\n`));
    await writeAll(dir, files);
    const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
    const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'hook', kind: 'webhook', webhook: { url: receiver.url, secret: SECRET } });
    expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [text.body.pipelineId, hook.body.pipelineId] })).status).toBe(201);

    const { job, sync } = await syncThroughTwoKills({ ls, sql, bucket, name: 'notes', dir, random, workers, pollMs: 20 });
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: N, objectsProcessed: N, objectsIndexed: N, objectsFailed: 0 });
    expect(sync).toMatchObject({ objectsProcessed: String(N), objectsIndexed: String(N) });
    const [docs] =
      await sql`select count(*)::int as n, count(distinct object_id)::int as objects from fulltext_documents where pipeline_id = ${text.body.pipelineId}`;
    expect(docs).toEqual({ n: N, objects: N });
    const [runs] = await sql`select count(*) filter (where status = 'indexed')::int as indexed, count(*)::int as total from object_pipeline_runs`;
    expect(runs).toEqual({ indexed: 2 * N, total: 2 * N });
    const owed = await sql`select count(*)::int as n from source_objects where process_job_id is not null`;
    expect(owed[0]!.n).toBe(0);
    // Every object reached the endpoint; a redelivery after a crash reuses its key, so the receiver can drop it.
    const keysByObject = new Map<string, Set<string>>();
    for (const d of receiver.accepted()) keysByObject.set(d.body.key, (keysByObject.get(d.body.key) ?? new Set()).add(d.idempotencyKey));
    expect([...keysByObject.keys()].sort()).toEqual([...files.keys()].sort());
    expect([...keysByObject.values()].every((keys) => keys.size === 1)).toBe(true);
    expect(receiver.deliveries.every((d) => d.signatureValid)).toBe(true);
    const found = await call(ls.url, 'POST', `/${bucket}/search`, { query: 'w777x' });
    expect(found.body.results.map((r: { key: string }) => r.key)).toEqual(['notes-7/note-00777.txt']);
  });
});
