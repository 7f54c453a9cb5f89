/**
 * Pipelines and rules: fulltext indexing and search, webhook deliveries with
 * retries, idempotency keys and signatures, objectsIndexed against
 * objectsProcessed, ruleId re-runs and back-fills — on the real services.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { authHeader, call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { scrape, total } from '../support/metrics.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-test-0123456789abcdef';

async function newBucket(ls: TestLakesync): Promise<string> {
  const bucket = unique('kb');
  expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  return bucket;
}

async function dirSource(ls: TestLakesync, bucket: string, dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('src'), kind: 'filesystem', filesystem: { path: dir }, batchSize: 10, ...extra });
  expect(res.status).toBe(201);
  return res.body.sourceId;
}

async function sync(ls: TestLakesync, bucket: string, sourceId: string) {
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
  expect(started.status).toBe(200);
  return waitForJob(ls.url, bucket, sourceId, started.body.jobId);
}

const search = (ls: TestLakesync, bucket: string, body: Record<string, unknown>) => call(ls.url, 'POST', `/${bucket}/search`, body);
const keysOf = (res: { body: { results: { key: string }[] } }) => res.body.results.map((r) => r.key);

describe('pipelines, rules and search', () => {
  let ls: TestLakesync;
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'lakesync-pipe-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    // Short backoff between webhook attempts keeps the retry test quick.
    ls = await startTestLakesync({ lake: 'filesystem', activityOverrides: { retryBackoffMs: 50 }, env: { WORKER_METRICS_PORT: '0' } });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('indexes *.md and *.txt for search: ranked, highlighted, updated on change, gone on delete', async () => {
    const bucket = await newBucket(ls);
    const dir = await tempDir();
    await writeAll(
      dir,
      new Map([
        ['notes/durable.md', Buffer.from('# Durable execution\n\nDurable workflows survive crashes. **Durable** timers, durable state: durable everything.\n')],
        ['notes/zeppelin.md', Buffer.from('A zeppelin is an airship. It mentions durable only once.\n')],
        ['docs/plain.txt', Buffer.from('The lake keeps copies of objects. Nothing about airships here.\n')],
        ['docs/escape.txt', Buffer.from('Text where 1 < 2 and <script>alert(1)</script> sit near the word lake.\n')],
        ['data/durable.json', Buffer.from(JSON.stringify({ title: 'durable durable durable' }))],
        ['bin/blob.txt', Buffer.concat([Buffer.from('durable'), Buffer.alloc(64), randomBytes(256)])],
      ]),
    );
    const pipeline = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
    expect(pipeline.status).toBe(201);
    expect(pipeline.body.fulltext).toEqual({ maxBytes: 1024 * 1024, language: 'english' });
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, {
      name: 'docs',
      pipelineIds: [pipeline.body.pipelineId],
      match: { includePatterns: ['*.md', '*.txt'] },
    });
    expect(rule.status).toBe(201);
    expect(rule.body.backfill).toEqual([]); // no sources yet

    const sourceId = await dirSource(ls, bucket, dir);
    const first = await sync(ls, bucket, sourceId);
    expect(first.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 6, objectsProcessed: 6, objectsIndexed: 6 });
    expect(first.sync).toMatchObject({ objectsProcessed: '6', objectsIndexed: '6' });

    // Ranked: the document that is all about it first; JSON is not routed, the binary .txt is skipped.
    const durable = await search(ls, bucket, { query: 'durable' });
    expect(durable.status).toBe(200);
    expect(keysOf(durable)).toEqual(['notes/durable.md', 'notes/zeppelin.md']);
    expect(durable.body.results[0].score).toBeGreaterThan(durable.body.results[1].score);
    expect(durable.body.results[0].snippet).toContain('<mark>Durable</mark>');
    expect(durable.body.results[0]).toMatchObject({ sourceId, pipelineId: pipeline.body.pipelineId });
    // Stemming: "survived" finds "survive"; phrases and prefixes work.
    expect(keysOf(await search(ls, bucket, { query: 'survived crash' }))).toEqual(['notes/durable.md']);
    expect(keysOf(await search(ls, bucket, { query: 'lake', prefix: 'docs/' })).sort()).toEqual(['docs/escape.txt', 'docs/plain.txt']);
    expect(keysOf(await search(ls, bucket, { query: 'lake', prefix: 'notes/' }))).toEqual([]);
    // Snippets are HTML-escaped text with only <mark> added.
    const escaped = await search(ls, bucket, { query: 'word' });
    expect(keysOf(escaped)).toEqual(['docs/escape.txt']);
    expect(escaped.body.results[0].snippet).toContain('<mark>word</mark>');
    expect(escaped.body.results[0].snippet).toContain('&lt;');
    expect(escaped.body.results[0].snippet).not.toContain('<script>');

    // Paged: one result per page, the token leads to the next, and it is bound to its query.
    const p1 = await search(ls, bucket, { query: 'durable', page_size: 1 });
    expect(keysOf(p1)).toEqual(['notes/durable.md']);
    const p2 = await search(ls, bucket, { query: 'durable', page_size: 1, page_token: p1.body.nextPageToken });
    expect(keysOf(p2)).toEqual(['notes/zeppelin.md']);
    expect(p2.body.nextPageToken).toBe('');
    expect((await search(ls, bucket, { query: 'lake', page_token: p1.body.nextPageToken })).status).toBe(400);

    // Object info shows the per-pipeline status.
    const info = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('bin/blob.txt')}/info`);
    expect(info.body.indexStatus[pipeline.body.pipelineId]).toMatchObject({ name: 'text', kind: 'fulltext', status: 'skipped', detail: 'content is binary' });
    expect(info.body.indexed).toBe(true);
    const json = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('data/durable.json')}/info`);
    expect(json.body.indexStatus).toEqual({});
    const md = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('notes/durable.md')}/info`);
    expect(md.body.indexStatus[pipeline.body.pipelineId]).toMatchObject({ status: 'indexed' });

    // Changed: the new text is found, the old is not. Deleted: gone from search.
    await writeFile(join(dir, 'notes/zeppelin.md'), 'Now this note is about a kangaroo.\n');
    await unlink(join(dir, 'notes/durable.md'));
    const second = await sync(ls, bucket, sourceId);
    expect(second.job).toMatchObject({ objectsDiscovered: 1, objectsProcessed: 1, objectsIndexed: 1, objectsDeleted: 1 });
    expect(keysOf(await search(ls, bucket, { query: 'kangaroo' }))).toEqual(['notes/zeppelin.md']);
    expect(keysOf(await search(ls, bucket, { query: 'zeppelin' }))).toEqual([]);
    expect(keysOf(await search(ls, bucket, { query: 'durable' }))).toEqual([]);
  });

  it('delivers every object exactly once through a flaky webhook, signed, with a working object URL', async () => {
    // The first two calls for every "flaky" object fail.
    const receiver = await startWebhookReceiver(SECRET, (d, before) => (d.body.key.includes('flaky') && before < 2 ? 503 : 200));
    try {
      const bucket = await newBucket(ls);
      const dir = await tempDir();
      const files = new Map<string, Buffer>();
      for (let i = 0; i < 12; i++) files.set(`in/${i % 3 === 0 ? 'flaky' : 'steady'}-${i}.csv`, Buffer.from(`row,${i}\n`));
      await writeAll(dir, files);
      const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
        name: 'notify',
        kind: 'webhook',
        webhook: { url: receiver.url, secret: SECRET, maxAttempts: 5 },
      });
      expect(hook.status).toBe(201);
      expect(JSON.stringify(hook.body)).not.toContain(SECRET);
      expect(hook.body.webhook).toMatchObject({ url: receiver.url, secretSet: true });
      expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [hook.body.pipelineId] })).status).toBe(201);
      const sourceId = await dirSource(ls, bucket, dir);
      const { job } = await sync(ls, bucket, sourceId);
      expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 12, objectsIndexed: 12 });

      const accepted = receiver.accepted();
      expect(accepted.map((d) => d.body.key).sort()).toEqual([...files.keys()].sort());
      expect(new Set(accepted.map((d) => d.idempotencyKey)).size).toBe(12);
      expect(receiver.deliveries.every((d) => d.signatureValid)).toBe(true);
      // Each flaky object: three calls, one key.
      const flaky = receiver.deliveries.filter((d) => d.body.key.includes('flaky-3'));
      expect(flaky.map((d) => d.status)).toEqual([503, 503, 200]);
      expect(new Set(flaky.map((d) => d.idempotencyKey)).size).toBe(1);
      // The payload's signed URL serves the object without a token.
      const one = accepted.find((d) => d.body.key === 'in/steady-1.csv')!;
      expect(one.body).toMatchObject({ bucket, size: 6, contentType: 'text/csv' });
      const got = await fetch(one.body.url!);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe('row,1\n');
    } finally {
      await receiver.stop();
    }
  });

  it('counts a failed pipeline as processed but not indexed, lists it, and retryFailed finishes it', async () => {
    let broken = true;
    const receiver = await startWebhookReceiver(SECRET, (d) => (broken && d.body.key.startsWith('bad') ? 500 : 200));
    try {
      const bucket = await newBucket(ls);
      const dir = await tempDir();
      await writeAll(dir, new Map(['bad-1.txt', 'bad-2.txt', 'good-1.txt', 'good-2.txt', 'good-3.txt'].map((k) => [k, Buffer.from(`${k}\n`)])));
      const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
        name: 'hook',
        kind: 'webhook',
        webhook: { url: receiver.url, secret: SECRET, maxAttempts: 2 },
      });
      await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [hook.body.pipelineId] });
      const sourceId = await dirSource(ls, bucket, dir);
      const { job, sync: status } = await sync(ls, bucket, sourceId);
      expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 5, objectsProcessed: 5, objectsIndexed: 3, objectsFailed: 0 });
      expect(Number(status.objectsIndexed)).toBeLessThan(Number(status.objectsProcessed));
      expect(job.failedObjects).toHaveLength(2);
      expect(job.failedObjects.map((f: { key: string }) => f.key)).toEqual(['bad-1.txt', 'bad-2.txt']);
      expect(job.failedObjects[0]).toMatchObject({ stage: 'pipeline', pipelineId: hook.body.pipelineId, pipelineName: 'hook', attempts: 2 });
      expect(job.failedObjects[0].error).toContain('HTTP 500');
      // The worker's metrics (on its own endpoint, never the API's) agree with the job, object for object.
      const processed = async (outcome: string) =>
        total(await scrape(ls.runtime.metricsUrl!), 'lakesync_objects_processed_total', { source_id: sourceId, outcome });
      expect([await processed('indexed'), await processed('not_indexed')]).toEqual([3, 2]);
      const info = await call(ls.url, 'GET', `/${bucket}/objects/bad-1.txt/info`);
      expect(info.body).toMatchObject({ indexed: false, ingestionStatus: 'INGESTED' });
      expect(info.body.indexStatus[hook.body.pipelineId]).toMatchObject({ status: 'failed' });

      broken = false;
      const before = receiver.deliveries.length;
      const retry = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { retryFailed: true });
      expect(retry.body).toMatchObject({ accepted: true, dispatched: 2 });
      const again = await waitForJob(ls.url, bucket, sourceId, retry.body.jobId);
      expect(again.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 2, objectsProcessed: 2, objectsIndexed: 2 });
      // Only the two that failed were sent again.
      expect(
        receiver.deliveries
          .slice(before)
          .map((d) => d.body.key)
          .sort(),
      ).toEqual(['bad-1.txt', 'bad-2.txt']);
      expect((await call(ls.url, 'GET', `/${bucket}/objects/bad-1.txt/info`)).body.indexed).toBe(true);
      expect([await processed('indexed'), await processed('not_indexed')]).toEqual([5, 2]);
    } finally {
      await receiver.stop();
    }
  });

  it('re-runs exactly one rule with ruleId, and back-fills when a rule is added', async () => {
    const receiver = await startWebhookReceiver(SECRET);
    try {
      const bucket = await newBucket(ls);
      const dir = await tempDir();
      await writeAll(
        dir,
        new Map([
          ...['a.md', 'b.md', 'c.md'].map((k) => [`docs/${k}`, Buffer.from(`markdown ${k} about otters\n`)] as const),
          ...['x.csv', 'y.csv'].map((k) => [`tables/${k}`, Buffer.from(`id,name\n1,${k}\n`)] as const),
        ]),
      );
      const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
      const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'hook', kind: 'webhook', webhook: { url: receiver.url, secret: SECRET } });
      const mdRule = await call(ls.url, 'POST', `/${bucket}/rules`, {
        name: 'markdown',
        pipelineIds: [text.body.pipelineId],
        match: { mimeTypes: ['text/markdown'] },
      });
      const sourceId = await dirSource(ls, bucket, dir);
      const first = await sync(ls, bucket, sourceId);
      expect(first.job).toMatchObject({ objectsProcessed: 5, objectsIndexed: 5 });
      expect(keysOf(await search(ls, bucket, { query: 'otters' }))).toEqual(['docs/a.md', 'docs/b.md', 'docs/c.md']);
      expect(receiver.deliveries).toHaveLength(0);

      // Adding a rule back-fills the objects already stored, through an ingest job scoped to it.
      const csvMatch = { includePatterns: ['tables/**'], excludePatterns: ['**/*.tmp'], mimeTypes: ['text/csv'] };
      const csvRule = await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'tables', pipelineIds: [hook.body.pipelineId], match: csvMatch });
      expect(csvRule.status).toBe(201);
      expect(csvRule.body.backfill).toEqual([{ sourceId, jobId: expect.any(String), dispatched: 2 }]);
      const backfill = await waitForJob(ls.url, bucket, sourceId, csvRule.body.backfill[0].jobId);
      expect(backfill.job).toMatchObject({
        kind: 'ingestion',
        ruleId: csvRule.body.ruleId,
        objectsDiscovered: 2,
        objectsProcessed: 2,
        objectsIndexed: 2,
        bytesTransferred: 0,
      });
      expect(receiver.deliveries.map((d) => d.body.key).sort()).toEqual(['tables/x.csv', 'tables/y.csv']);

      // Sending the same selection again (keys in any order) changes nothing and re-delivers nothing.
      const same = await call(ls.url, 'PATCH', `/${bucket}/rules/${csvRule.body.ruleId}`, {
        match: { mimeTypes: ['text/csv'], excludePatterns: ['**/*.tmp'], includePatterns: ['tables/**'] },
        pipelineIds: [hook.body.pipelineId],
      });
      expect(same.status).toBe(200);
      expect(same.body.backfill).toBeUndefined();

      const mdInfo = async () =>
        (await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('docs/a.md')}/info`)).body.indexStatus[text.body.pipelineId];
      const mdBefore = await mdInfo();

      // ruleId: exactly that rule's objects and pipelines, again, with new idempotency keys.
      const rerun = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { ruleId: csvRule.body.ruleId });
      expect(rerun.body).toMatchObject({ accepted: true, dispatched: 2 });
      const r = await waitForJob(ls.url, bucket, sourceId, rerun.body.jobId);
      expect(r.job).toMatchObject({ ruleId: csvRule.body.ruleId, objectsProcessed: 2, objectsIndexed: 2 });
      expect(
        receiver.deliveries
          .slice(2)
          .map((d) => d.body.key)
          .sort(),
      ).toEqual(['tables/x.csv', 'tables/y.csv']);
      expect(new Set(receiver.deliveries.map((d) => d.idempotencyKey)).size).toBe(4);
      expect(await mdInfo()).toEqual(mdBefore);

      const mdRerun = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { ruleId: mdRule.body.ruleId });
      const m = await waitForJob(ls.url, bucket, sourceId, mdRerun.body.jobId);
      expect(m.job).toMatchObject({ objectsDiscovered: 3, objectsProcessed: 3, objectsIndexed: 3 });
      expect(receiver.deliveries).toHaveLength(4);
      expect((await mdInfo()).jobId).toBe(mdRerun.body.jobId);

      // Deleting the rule drops what only it indexed.
      expect((await call(ls.url, 'DELETE', `/${bucket}/rules/${mdRule.body.ruleId}`)).status).toBe(200);
      expect(keysOf(await search(ls, bucket, { query: 'otters' }))).toEqual([]);
      expect(await mdInfo()).toBeUndefined();
    } finally {
      await receiver.stop();
    }
  });

  it('processes objects pushed through the byte plane, and forgets them when they are deleted', async () => {
    const bucket = await newBucket(ls);
    const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext', fulltext: { maxBytes: 64 } });
    expect((await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [text.body.pipelineId] })).status).toBe(201);
    const put = (key: string, body: string) => fetch(`${ls.url}/${bucket}/${key}`, { method: 'PUT', body, headers: authHeader(ls.url) });
    expect((await put('pushed/pelican.txt', 'A pelican landed on the lake.')).status).toBe(200);
    // Only the first maxBytes are indexed: the word past them is not found.
    expect((await put('pushed/long.html', `<html><body><p>${'filler '.repeat(12)}</p><p>ibis</p></body></html>`)).status).toBe(200);
    const found = await waitFor('pushed object indexed', async () => {
      const res = await search(ls, bucket, { query: 'pelican' });
      return res.body.results.length > 0 && res;
    });
    expect(keysOf(found)).toEqual(['pushed/pelican.txt']);
    const info = await waitFor('html processed', async () => {
      const res = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('pushed/long.html')}/info`);
      return res.body.indexStatus[text.body.pipelineId]?.status === 'indexed' && res;
    });
    expect(info.body.indexStatus[text.body.pipelineId].detail).toContain('first 64 bytes');
    expect(keysOf(await search(ls, bucket, { query: 'filler' }))).toEqual(['pushed/long.html']);
    expect(keysOf(await search(ls, bucket, { query: 'ibis' }))).toEqual([]);
    expect((await fetch(`${ls.url}/${bucket}/pushed/pelican.txt`, { method: 'DELETE', headers: authHeader(ls.url) })).status).toBe(204);
    expect(keysOf(await search(ls, bucket, { query: 'pelican' }))).toEqual([]);
  });

  it('shows a newly selected pipeline as pending until its back-fill has run', async () => {
    const bucket = await newBucket(ls);
    const dir = await tempDir();
    await writeAll(dir, new Map([['doc.md', Buffer.from('# cormorants dive\n')]]));
    const sourceId = await dirSource(ls, bucket, dir);
    expect((await sync(ls, bucket, sourceId)).job.objectsIndexed).toBe(1);
    const info = async () => (await call(ls.url, 'GET', `/${bucket}/objects/doc.md/info`)).body;
    expect(await info()).toMatchObject({ indexStatus: {}, indexed: true });

    // Paused, the source runs nothing: the back-fill waits, and the object says so.
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, {})).status).toBe(200);
    const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'md', pipelineIds: [text.body.pipelineId], match: { includePatterns: ['*.md'] } });
    expect(rule.body.backfill).toEqual([{ sourceId, jobId: expect.any(String), dispatched: 1 }]);
    const waiting = await info();
    expect(waiting.indexStatus[text.body.pipelineId]).toMatchObject({ name: 'text', status: 'pending' });
    expect(waiting.indexed).toBe(false);
    expect(keysOf(await search(ls, bucket, { query: 'cormorant' }))).toEqual([]);

    expect((await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/resume`, {})).status).toBe(200);
    await waitForJob(ls.url, bucket, sourceId, rule.body.backfill[0].jobId);
    const done = await info();
    expect(done.indexStatus[text.body.pipelineId]).toMatchObject({ status: 'indexed', jobId: rule.body.backfill[0].jobId });
    expect(done.indexed).toBe(true);
    expect(keysOf(await search(ls, bucket, { query: 'cormorant' }))).toEqual(['doc.md']);
  });

  it('refuses bad pipelines, rules, searches and ruleIds with the field named, creating nothing', async () => {
    const bucket = await newBucket(ls);
    const bad = async (path: string, body: unknown, field: string, status = 400) => {
      const res = await call(ls.url, 'POST', `/${bucket}${path}`, body);
      expect(res.status).toBe(status);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    };
    await bad('/pipelines', { name: 'h', kind: 'webhook' }, 'webhook');
    await bad('/pipelines', { name: 'h', kind: 'webhook', webhook: { url: 'ftp://x', secret: SECRET } }, 'webhook.url');
    await bad('/pipelines', { name: 'h', kind: 'webhook', webhook: { url: 'http://127.0.0.1:1/x', secret: 'short' } }, 'webhook.secret');
    await bad('/pipelines', { name: 'f', kind: 'fulltext', fulltext: { language: 'klingon' } }, 'fulltext.language');
    await bad('/pipelines', { name: 'f', kind: 'fulltext', webhook: { url: 'http://127.0.0.1:1/x', secret: SECRET } }, 'webhook');
    await bad('/rules', { name: 'r', pipelineIds: ['pipe_nope'] }, 'pipelineIds.0');
    await bad('/rules', { name: 'r', pipelineIds: [] }, 'pipelineIds');
    const text = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' });
    await bad('/rules', { name: 'r', pipelineIds: [text.body.pipelineId], match: { includePatterns: ['[oops'] } }, 'match.includePatterns.0');
    await bad('/rules', { name: 'r', pipelineIds: [text.body.pipelineId], match: { sourceIds: ['src_nope'] } }, 'match.sourceIds.0');
    await bad('/search', { query: '   ' }, 'query');
    await bad('/search', { query: 'x', page_size: 1000 }, 'page_size');
    await bad('/search', { query: 'x', pipelineId: 'pipe_nope' }, 'pipelineId');
    expect((await call(ls.url, 'GET', `/${bucket}/rules`)).body.totalCount).toBe(0);
    expect((await call(ls.url, 'GET', `/${bucket}/pipelines`)).body.totalCount).toBe(1);

    const dir = await tempDir();
    const sourceId = await dirSource(ls, bucket, dir);
    await bad(`/sources/${sourceId}/ingest`, { ruleId: 'rule_nope' }, 'ruleId');
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, { name: 'r', pipelineIds: [text.body.pipelineId] });
    expect(rule.status).toBe(201);
    // A pipeline a rule uses is not deleted from under it.
    const del = await call(ls.url, 'DELETE', `/${bucket}/pipelines/${text.body.pipelineId}`);
    expect(del.status).toBe(409);
    expect(del.body.message).toContain(rule.body.ruleId);
    // The secret is write-only everywhere.
    const hook = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
      name: 'hook',
      kind: 'webhook',
      webhook: { url: 'http://127.0.0.1:9/x', secret: SECRET, maxAttempts: 7 },
    });
    const patched = await call(ls.url, 'PATCH', `/${bucket}/pipelines/${hook.body.pipelineId}`, {
      webhook: { secret: `${SECRET}-rotated`, timeoutSeconds: 3 },
    });
    // Fields the PATCH does not name keep their values, defaults or not.
    expect(patched.body.webhook).toMatchObject({ url: 'http://127.0.0.1:9/x', timeoutSeconds: 3, maxAttempts: 7, secretSet: true });
    const listed = await call(ls.url, 'GET', `/${bucket}/pipelines`);
    expect(JSON.stringify([hook.body, patched.body, listed.body])).not.toContain(SECRET);
    // A webhook pipeline takes no fulltext settings, and the name is unique per bucket.
    expect((await call(ls.url, 'PATCH', `/${bucket}/pipelines/${hook.body.pipelineId}`, { fulltext: { maxBytes: 10 } })).status).toBe(400);
    expect((await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' })).status).toBe(409);
  });
});
