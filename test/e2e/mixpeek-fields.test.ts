/**
 * Mixpeek's sync fields on the source resource, end to end on real Temporal,
 * Postgres and MinIO: who created and who paused a source, pause and resume
 * answering the whole source, runCounter and batchesCreated, the running
 * scan's resume cursor, metadataFilters over S3 user metadata and Content-Type
 * (HEADs only for objects the cheaper filters let through), and an
 * initial_only source that a PATCH to continuous makes poll again and ACTIVE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { controllerStatus } from '../support/controller.js';
import { startGatedProxy, type GatedProxy } from '../support/gated-proxy.js';
import { Source } from '../../api/contract/sources.js';
import { closeDb, createDb } from '../../db/client.js';
import { countBatch, createJob, finishJob, startJob } from '../../catalog/index.js';

describe("Mixpeek's sync fields", () => {
  let ls: TestLakesync;
  let proxy: GatedProxy;
  let s3: S3Client;
  const bucket = unique('kb');
  const dirs: string[] = [];
  let lakeRoot: string;
  /** HEAD requests the proxy forwarded to MinIO. */
  let heads: string[] = [];

  /** The proxy's gate, holding nothing: it only counts HEADs. */
  const countHeads = (req: IncomingMessage): boolean => {
    if (req.method === 'HEAD') heads.push(req.url ?? '');
    return false;
  };
  const as = async (sub: string) => ({ authorization: `Bearer ${await ls.token({ sub })}` });
  const getSource = async (sourceId: string) => (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
  const sync = async (sourceId: string) => (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body;
  const discover = async (sourceId: string) => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    return waitForJob(ls.url, bucket, sourceId, started.body.jobId);
  };
  const s3Source = async (srcBucket: string, extra: Record<string, unknown>) => {
    const { minio } = inject('infra');
    return call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('s3'),
      kind: 's3',
      // Through the proxy, which counts the HEADs (and can hold a listing page back).
      s3: { endpoint: proxy.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      syncIntervalSeconds: 3600,
      ...extra,
    });
  };
  const put = (b: string, key: string, body: string, contentType: string, metadata: Record<string, string> = {}) =>
    s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body, ContentType: contentType, Metadata: metadata }));

  beforeAll(async () => {
    // Pages of 2 keys: a scan takes several listings, so one can be held back mid-scan.
    ls = await startTestLakesync({ lake: 'filesystem', env: { WORKER_LIST_PAGE_SIZE: '2' } });
    proxy = await startGatedProxy(inject('infra').minio.endpoint);
    proxy.close(countHeads);
    s3 = minioClient();
    lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await proxy?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('shows who created and who paused a source; pause and resume answer the whole source', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-mx-'));
    dirs.push(dir);
    await writeFile(join(dir, 'a.txt'), 'a');
    const created = await call(
      ls.url,
      'POST',
      `/${bucket}/sources`,
      { name: unique('fs'), kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600, targetPrefix: 'pause/' },
      await as('creator@example.com'),
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      createdBy: 'creator@example.com',
      pausedAt: null,
      pausedBy: null,
      runCounter: 0,
      batchesCreated: 0,
      resumeCursor: null,
    });
    const { sourceId, workflowId } = created.body;

    const paused = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, { reason: 'audit' }, await as('alice'));
    expect(paused.status).toBe(200);
    // The whole source, as GET shows it, already paused.
    expect(Source.strict().parse(paused.body)).toMatchObject({
      sourceId,
      createdBy: 'creator@example.com',
      paused: true,
      pauseReason: 'audit',
      pausedBy: 'alice',
      status: 'SOURCE_STATUS_PAUSED',
    });
    const pausedAt = Date.parse(paused.body.pausedAt);
    expect(pausedAt).toBeGreaterThan(Date.parse(created.body.createdAt) - 1);
    // The controller took the pause in from alice, and mirrors the same into the row.
    await waitFor('the controller paused', async () => (await controllerStatus(ls.runtime.temporal, workflowId)).paused);
    await waitFor('the pause mirrored', async () => (await sync(sourceId)).status === 'SOURCE_STATUS_PAUSED');
    expect(await getSource(sourceId)).toMatchObject({ paused: true, pausedBy: 'alice', pauseReason: 'audit', pausedAt: paused.body.pausedAt });

    // Paused again by bob: he is now the one who asked, but the source has been held since alice's pause.
    const again = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, {}, await as('bob'));
    expect(again.body).toMatchObject({ pausedBy: 'bob', pauseReason: null, pausedAt: paused.body.pausedAt });

    const resumed = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/resume`, {}, await as('carol'));
    expect(resumed.status).toBe(200);
    expect(Source.strict().parse(resumed.body)).toMatchObject({
      sourceId,
      paused: false,
      pausedAt: null,
      pausedBy: null,
      pauseReason: null,
      status: 'SOURCE_STATUS_ACTIVE',
    });
    await waitFor('the controller resumed', async () => !(await controllerStatus(ls.runtime.temporal, workflowId)).paused);
    // Once the controller has recorded the resume, the row says the same.
    await waitFor('the resume mirrored', async () => {
      const s = await getSource(sourceId);
      return s.paused === false && s.status === 'SOURCE_STATUS_ACTIVE' && s.pausedBy === null && s.pausedAt === null;
    });

    // Bad input names the field and changes nothing.
    const bad = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/pause`, { reason: 'a\u0000b' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/reason/);
    expect(await getSource(sourceId)).toMatchObject({ paused: false, pausedBy: null });
  });

  it('excludes S3 objects by user metadata and Content-Type, HEADing only what the other filters let through, and reconciles a change of rules', async () => {
    const srcBucket = unique('meta');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    await put(srcBucket, 'a.txt', 'public text', 'text/plain', { classification: 'public', pages: '12' });
    await put(srcBucket, 'b.txt', 'secret text', 'text/plain', { classification: 'secret', pages: '3' });
    await put(srcBucket, 'c.txt', 'no metadata', 'text/plain');
    await put(srcBucket, 'd.json', '{"public":true}', 'application/json', { Classification: 'public' });
    await put(srcBucket, 'e.bin', 'never looked at', 'application/octet-stream', { classification: 'public' });

    // Refused at the edge, naming the field; nothing is created.
    const before = (await call(ls.url, 'GET', `/${bucket}/sources`)).body.totalCount;
    for (const [rule, field] of [
      [{ field: 'metadata.classification', operator: 'like', value: 'x' }, 'fileFilters.metadataFilters.0.operator'],
      [{ field: 'metadata.pages', operator: 'gt', value: '10' }, 'fileFilters.metadataFilters.0.value'],
      [{ field: 'classification', operator: 'equals', value: 'x' }, 'fileFilters.metadataFilters.0.field'],
      [{ field: 'metadata.classification', operator: 'equals', value: 'x\u0007' }, 'fileFilters.metadataFilters.0.value'],
    ] as const) {
      const res = await s3Source(srcBucket, { fileFilters: { metadataFilters: [rule] } });
      expect(res.status, JSON.stringify(rule)).toBe(400);
      expect(JSON.stringify(res.body), JSON.stringify(rule)).toContain(field);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.totalCount).toBe(before);

    const created = await s3Source(srcBucket, {
      targetPrefix: 'meta/',
      batchSize: 1,
      fileFilters: { excludePatterns: ['*.bin'], metadataFilters: [{ field: 'metadata.classification', operator: 'not_equals', value: 'secret' }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.fileFilters.metadataFilters).toEqual([{ field: 'metadata.classification', operator: 'not_equals', value: 'secret' }]);
    const { sourceId } = created.body;

    heads = [];
    const first = await discover(sourceId);
    expect(first.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 5, objectsDiscovered: 3 });
    expect(await listFiles(join(lakeRoot, 'meta'))).toEqual(['a.txt', 'c.txt', 'd.json']);
    // One HEAD per object the exclude pattern let through: e.bin was never asked about.
    expect(heads.map((u) => u.split('?')[0]).sort()).toEqual([`/${srcBucket}/a.txt`, `/${srcBucket}/b.txt`, `/${srcBucket}/c.txt`, `/${srcBucket}/d.json`]);
    const objects = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/objects`)).body.objects as { key: string; status: string }[];
    expect(Object.fromEntries(objects.map((o) => [o.key, o.status]))).toEqual({
      'a.txt': 'SOURCE_OBJECT_STATUS_INGESTED',
      'b.txt': 'SOURCE_OBJECT_STATUS_FILTERED',
      'c.txt': 'SOURCE_OBJECT_STATUS_INGESTED',
      'd.json': 'SOURCE_OBJECT_STATUS_INGESTED',
      'e.bin': 'SOURCE_OBJECT_STATUS_FILTERED',
    });

    // Narrower rules: public text with more than 10 pages. c.txt and d.json drift out and leave the lake (onFilterDrift is on by default).
    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, {
      fileFilters: {
        metadataFilters: [
          { field: 'metadata.classification', operator: 'equals', value: 'public' },
          { field: 'contentType', operator: 'contains', value: 'text/' },
          { field: 'metadata.pages', operator: 'gt', value: 10 },
        ],
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.fileFilters.excludePatterns).toEqual(['*.bin']);
    const second = await discover(sourceId);
    expect(second.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 0, objectsRemoved: 2 });
    expect(await listFiles(join(lakeRoot, 'meta'))).toEqual(['a.txt']);

    // Two sync executions; a batch per object copied (batches of 1), each counted once.
    const src = await getSource(sourceId);
    expect(src).toMatchObject({ runCounter: 2, batchesCreated: 3, resumeCursor: null, resumeObjectsProcessed: 0 });
  });

  it('filters a directory by the content type its extensions imply; its files have no user metadata', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-mx-'));
    dirs.push(dir);
    for (const f of ['a.json', 'b.txt', 'c.json']) await writeFile(join(dir, f), f);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('fsmeta'),
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      targetPrefix: 'fsmeta/',
      fileFilters: {
        metadataFilters: [
          { field: 'contentType', operator: 'equals', value: 'application/json' },
          { field: 'metadata.owner', operator: 'exists', value: false },
        ],
      },
    });
    expect(created.status).toBe(201);
    const { job } = await discover(created.body.sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 3, objectsDiscovered: 2 });
    expect(await listFiles(join(lakeRoot, 'fsmeta'))).toEqual(['a.json', 'c.json']);
    // A rule on user metadata a file cannot have excludes everything; the drift leaves the lake.
    await call(ls.url, 'PATCH', `/${bucket}/sources/${created.body.sourceId}`, {
      fileFilters: { metadataFilters: [{ field: 'metadata.owner', operator: 'exists' }] },
    });
    expect((await discover(created.body.sourceId)).job).toMatchObject({ objectsDiscovered: 0, objectsRemoved: 2 });
    expect(await listFiles(join(lakeRoot, 'fsmeta'))).toEqual([]);
  });

  it('counts a sync execution once per job start and a batch once per (job, last key), whatever the retries', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-mx-'));
    dirs.push(dir);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('count'),
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
    });
    const { sourceId } = created.body;
    // The activities' own calls, made as a retried attempt would make them, on the real database.
    const db = createDb(ls.databaseUrl, 1);
    try {
      const ref = { jobId: `job_${unique('retry').replace(/-/g, '')}`, sourceId };
      const run = { workflowId: 'wf', runId: 'run' };
      await createJob(db, { ...ref, kind: 'discovery', trigger: 'api', fullSync: false, retryFailed: false });
      await startJob(db, { ...ref, fullSync: false, retryFailed: false }, run);
      await startJob(db, { ...ref, fullSync: false, retryFailed: false }, run);
      expect(await countBatch(db.$client, ref, 'a')).toBe(true);
      expect(await countBatch(db.$client, ref, 'a')).toBe(false);
      expect(await countBatch(db.$client, ref, 'b')).toBe(true);
      expect(await getSource(sourceId)).toMatchObject({ runCounter: 1, batchesCreated: 2 });
      await finishJob(db, { ...ref, failed: false });
      // A stray attempt after the job ended counts nothing, and the job's batch keys are gone.
      expect(await countBatch(db.$client, ref, 'c')).toBe(false);
      expect(await countBatch(db.$client, ref, 'a')).toBe(false);
      expect(Number((await db.$client`select count(*) as n from job_batches where job_id = ${ref.jobId}`)[0]!.n)).toBe(0);
      // A dry run is not a sync execution.
      const dry = { jobId: `job_${unique('dry').replace(/-/g, '')}`, sourceId };
      await createJob(db, { ...dry, kind: 'discovery', trigger: 'api', fullSync: false, retryFailed: false, dryRun: true });
      await startJob(db, { ...dry, fullSync: false, retryFailed: false }, run);
      await finishJob(db, { ...dry, failed: false, dryRun: true });
      expect(await getSource(sourceId)).toMatchObject({ runCounter: 1, batchesCreated: 2 });
    } finally {
      await closeDb(db);
    }
  });

  it("shows the running scan's cursor while it lists, and none once it has listed everything", async () => {
    const srcBucket = unique('cursor');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    for (const k of ['k1', 'k2', 'k3', 'k4', 'k5']) await put(srcBucket, `${k}.txt`, k, 'text/plain');
    const created = await s3Source(srcBucket, { targetPrefix: 'cursor/' });
    expect(created.status).toBe(201);
    const { sourceId } = created.body;

    // Hold back the listing that starts after the second page (k4.txt onwards); count HEADs as before.
    proxy.close((req) => countHeads(req) || (req.method === 'GET' && /[?&]start-after=k4\.txt/.test(req.url ?? '')));
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    await waitFor('the third listing held', async () => proxy.held() > 0, 60_000, 100);
    // The third page is asked for while the second is still being committed (listing runs a page ahead): the cursor
    // reaches k4.txt then, and stays there while the third is held.
    const mid = await waitFor('the second page committed', async () => {
      const s = await getSource(sourceId);
      return s.resumeCursor === 'k4.txt' && s;
    });
    expect(mid).toMatchObject({ currentJobId: started.body.jobId, resumeCursor: 'k4.txt', resumeObjectsProcessed: 4 });
    // The list shows the same.
    const listed = (await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources.find((s: { sourceId: string }) => s.sourceId === sourceId);
    expect(listed).toMatchObject({ resumeCursor: 'k4.txt', resumeObjectsProcessed: 4 });
    proxy.open();
    proxy.close(countHeads);
    const done = await waitForJob(ls.url, bucket, sourceId, started.body.jobId);
    expect(done.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 5 });
    expect(await getSource(sourceId)).toMatchObject({ currentJobId: null, resumeCursor: null, resumeObjectsProcessed: 0, runCounter: 1 });
    // No metadata filter: not one HEAD for this source.
    expect(heads.filter((u) => u.startsWith(`/${srcBucket}/`))).toEqual([]);
  });

  it('a PATCH from initial_only to continuous brings back polling and an ACTIVE status', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-mx-'));
    dirs.push(dir);
    await writeFile(join(dir, 'first.txt'), 'first');
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('once'),
      kind: 'filesystem',
      filesystem: { path: dir },
      syncMode: 'initial_only',
      syncIntervalSeconds: 5,
      targetPrefix: 'once/',
    });
    expect(created.status).toBe(201);
    const { sourceId, workflowId } = created.body;
    const completed = await waitFor('completed', async () => {
      const s = await sync(sourceId);
      return s.status === 'SOURCE_STATUS_COMPLETED' && s;
    });
    expect(completed.nextSyncAt).toBeNull();
    expect(await controllerStatus(ls.runtime.temporal, workflowId)).toMatchObject({ phase: 'completed', status: 'SOURCE_STATUS_COMPLETED' });

    const patched = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { syncMode: 'continuous' });
    expect(patched.status).toBe(200);
    // ACTIVE again, live and in the row, with a poll scheduled.
    const live = await waitFor('the controller active again', async () => {
      const st = await controllerStatus(ls.runtime.temporal, workflowId);
      return st.status === 'SOURCE_STATUS_ACTIVE' && st.nextSyncAt !== null && st;
    });
    expect(live.phase).not.toBe('completed');
    await waitFor('the row active again', async () => {
      const s = await getSource(sourceId);
      return s.status === 'SOURCE_STATUS_ACTIVE' && s.nextSyncAt !== null;
    });
    // And it polls: a file written now arrives with no API call.
    await writeFile(join(dir, 'later.txt'), 'later');
    await waitFor('a scheduled poll to copy the new file', async () => (await listFiles(join(lakeRoot, 'once'))).includes('later.txt'), 60_000, 250);
    const jobs = (await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}`)).body.jobs as { trigger: string }[];
    expect(jobs.filter((j) => j.trigger === 'schedule').length).toBeGreaterThanOrEqual(2);
    expect((await sync(sourceId)).status).toBe('SOURCE_STATUS_ACTIVE');
  });
});
