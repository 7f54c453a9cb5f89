/**
 * A Google Cloud Storage source against fake-gcs-server, written to with the
 * official client: a corpus synced byte for byte, then only what changed,
 * deletions swept, filters applied, refusals that suspend the source, and a
 * worker killed mid-scan that resumes from its checkpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectScanResumesAfterKill } from '../support/scan-crash.js';
import { seededRandom } from '../support/seed.js';
import { join } from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { corpus, sha256, tree } from '../support/objects.js';
import { gcsBucket, gcsPutAll, gcsStorage, serviceAccountKey } from '../support/gcs.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { startGatedProxy } from '../support/gated-proxy.js';

const hashes = (files: Map<string, Buffer>, prefix = '') => new Map([...files].map(([k, v]) => [prefix + k, sha256(v)]));

describe('gcs source', () => {
  let ls: TestLakesync;
  let worker: WorkerProcess | undefined;
  let sql: postgres.Sql;
  const storage = gcsStorage();
  const { gcs } = inject('infra');

  /** Each test syncs into a lake bucket of its own, so what it finds there is only what it put there. */
  const ownBucket = async () => {
    const name = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name })).status).toBe(201);
    return { bucket: name, lakeRoot: join((ls.lake as { dir: string }).dir, name) };
  };
  const discover = async (bucket: string, sourceId: string, body: object = {}) => {
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, body);
    expect(run.status).toBe(200);
    return waitForJob(ls.url, bucket, sourceId, run.body.jobId);
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate' });
    worker = await startWorkerProcess(ls.workerEnv);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
  });

  it('syncs a bucket byte for byte with a service-account key, then exactly what changed, then sweeps deletions', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const src = unique('gcs-src');
    await gcsBucket(storage, src);
    const files = corpus(300, { bigBytes: 32 * 1024 * 1024 + 7 });
    await gcsPutAll(storage, src, 'in/', files);
    // Outside the prefix: never listed.
    await storage.bucket(src).file('elsewhere/x.txt').save('not ours', { resumable: false });

    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'gcs',
      kind: 'gcs',
      gcs: { endpoint: gcs.endpoint, bucket: src, prefix: 'in/', serviceAccount: serviceAccountKey() },
      batchSize: 40,
      syncIntervalSeconds: 86400,
    });
    expect(created.status).toBe(201);
    expect(created.body.gcs).toEqual({ endpoint: gcs.endpoint, bucket: src, prefix: 'in/', credentialsSet: true });
    const sourceId = created.body.sourceId as string;

    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
    const r1 = await discover(bucket, sourceId);
    expect(r1.job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 300,
      objectsDiscovered: 300,
      objectsProcessed: 300,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(r1.sync).toMatchObject({ objectsDiscovered: '300', objectsProcessed: '300', objectsIndexed: '300' });
    expect(await tree(lakeRoot)).toEqual(hashes(files));

    expect((await discover(bucket, sourceId)).job).toMatchObject({ objectsListed: 300, objectsDiscovered: 0 });

    const changed = [...files.keys()].filter((k) => k.startsWith('dir2/')).slice(0, 3);
    for (const key of changed) files.set(key, Buffer.from(`changed content of ${key}, longer than before`));
    files.set('added/a.md', Buffer.from('# a'));
    files.set('added/ünï b.md', Buffer.from('# b'));
    // Rewritten with the same bytes: a new generation, the same MD5, no change.
    const same = [...files.keys()].find((k) => k.startsWith('dir3/'))!;
    await gcsPutAll(
      storage,
      src,
      'in/',
      new Map([...[...changed, 'added/a.md', 'added/ünï b.md'].map((k) => [k, files.get(k)!] as const), [same, files.get(same)!]]),
    );
    const delta = await discover(bucket, sourceId);
    expect(delta.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 5, objectsNew: 2, objectsProcessed: 5, objectsFailed: 0 });
    expect(await tree(lakeRoot)).toEqual(hashes(files));

    const gone = [...files.keys()].filter((k) => k.startsWith('dir4/')).slice(0, 2);
    for (const key of gone) {
      await storage.bucket(src).file(`in/${key}`).delete();
      files.delete(key);
    }
    const swept = await discover(bucket, sourceId);
    expect(swept.job).toMatchObject({ objectsListed: 300, objectsDiscovered: 0, objectsDeleted: 2 });
    expect(await tree(lakeRoot)).toEqual(hashes(files));

    // More deletions than reconcile.maxDeletes allows: the run deletes nothing.
    expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { reconcile: { maxDeletes: 2 } })).status).toBe(200);
    const doomed = [...files.keys()].filter((k) => k.startsWith('dir1/')).slice(0, 3);
    for (const key of doomed) await storage.bucket(src).file(`in/${key}`).delete();
    const refused = await discover(bucket, sourceId);
    expect(refused.job.status).toBe('JOB_STATUS_FAILED');
    expect(refused.job.error).toMatch(/refusing to delete 3 of 300 objects.*maxDeletes=2.*nothing was deleted/);
    expect(await tree(lakeRoot)).toEqual(hashes(files));
  });

  it('syncs only what its filters name, and an emulator needs no key', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const src = unique('gcs-filter');
    await gcsBucket(storage, src);
    const files = new Map(
      ['a/keep.txt', 'a/skip.log', 'b/keep 2.txt', 'b/deep/skip.log', 'big.txt'].map((k) => [
        k,
        Buffer.from(`content of ${k} `.repeat(k === 'big.txt' ? 100 : 1)),
      ]),
    );
    await gcsPutAll(storage, src, '', files);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'filtered',
      kind: 'gcs',
      gcs: { endpoint: gcs.endpoint, bucket: src },
      fileFilters: { excludePatterns: ['**/*.log'], maxSizeBytes: 1000 },
      syncIntervalSeconds: 86400,
    });
    expect(created.status).toBe(201);
    expect(created.body.gcs.credentialsSet).toBe(false);
    const r = await discover(bucket, created.body.sourceId);
    expect(r.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 2, objectsProcessed: 2 });
    expect(await tree(lakeRoot)).toEqual(hashes(new Map([...files].filter(([k]) => k.endsWith('keep.txt') || k.endsWith('keep 2.txt')))));
  });

  it('retries an object it cannot read, dead-letters it after 3 attempts, and replays it with retryFailed', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const src = unique('gcs-dead');
    await gcsBucket(storage, src);
    const files = new Map(['a.txt', 'b.txt', 'vanishing.txt'].map((k) => [k, Buffer.from(`content of ${k}`)]));
    await gcsPutAll(storage, src, '', files);
    // The source is reached through a gate that holds the copy of vanishing.txt until it is gone from the bucket.
    const proxy = await startGatedProxy(gcs.endpoint);
    try {
      proxy.close((req) => (req.url ?? '').includes('vanishing.txt') && (req.url ?? '').includes('alt=media'));
      const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: 'vanishing',
        kind: 'gcs',
        gcs: { endpoint: proxy.endpoint, bucket: src },
        syncIntervalSeconds: 86400,
      });
      const sourceId = created.body.sourceId as string;
      const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
      await waitFor('the copy of vanishing.txt held', async () => proxy.held() > 0, 60_000, 50);
      await storage.bucket(src).file('vanishing.txt').delete();
      proxy.open();
      const { job } = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
      expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 3, objectsProcessed: 2, objectsFailed: 1 });
      const dead = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.deadLetters;
      expect(dead).toEqual([expect.objectContaining({ key: 'vanishing.txt', attempts: 3, lastError: 'NotFound: HTTP 404' })]);

      // Back at the source, the dead letter comes in.
      await gcsPutAll(storage, src, '', new Map([['vanishing.txt', files.get('vanishing.txt')!]]));
      const retry = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { retryFailed: true });
      expect(retry.body).toMatchObject({ accepted: true, dispatched: 1 });
      expect((await waitForJob(ls.url, bucket, sourceId, retry.body.jobId)).job).toMatchObject({
        status: 'JOB_STATUS_SUCCEEDED',
        objectsProcessed: 1,
        objectsFailed: 0,
      });
      expect(await tree(lakeRoot)).toEqual(hashes(files));
      expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.deadLetters).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses a key that is not a service-account RSA key at the edge, naming the field, and creates nothing', async () => {
    const { bucket } = await ownBucket();
    const key = serviceAccountKey();
    for (const [bad, field] of [
      [{ ...key, private_key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n' }, 'gcs.serviceAccount.private_key'],
      [{ ...key, type: 'authorized_user' }, 'gcs.serviceAccount.type'],
      [{ ...key, token_uri: 'http://169.254.169.254/token' }, 'gcs.serviceAccount.token_uri'],
    ] as const) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'bad', kind: 'gcs', gcs: { bucket: 'some-bucket', serviceAccount: bad } });
      expect(res.status).toBe(400);
      expect(res.body.details[0].field).toBe(field);
      expect(JSON.stringify(res.body)).not.toContain(key.private_key!.split('\n')[1]);
    }
    const none = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'keyless', kind: 'gcs', gcs: { bucket: 'some-bucket' } });
    expect(none.status).toBe(400);
    expect(none.body.details[0].field).toBe('gcs.serviceAccount');
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('keeps its sealed key to its endpoint: moving the endpoint needs the key again, a keyless source moves freely', async () => {
    const { bucket } = await ownBucket();
    const keyed = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'keyed',
      kind: 'gcs',
      gcs: { endpoint: gcs.endpoint, bucket: 'some-bucket', serviceAccount: serviceAccountKey() },
    });
    expect(keyed.status).toBe(201);
    const elsewhere = 'http://127.0.0.1:9/';
    const refused = await call(ls.url, 'PATCH', `/${bucket}/sources/${keyed.body.sourceId}`, { gcs: { endpoint: elsewhere } });
    expect(refused.status).toBe(400);
    expect(refused.body.details[0].field).toBe('gcs.serviceAccount');
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${keyed.body.sourceId}`)).body.gcs.endpoint).toBe(gcs.endpoint);
    const rekeyed = await call(ls.url, 'PATCH', `/${bucket}/sources/${keyed.body.sourceId}`, {
      gcs: { endpoint: elsewhere, serviceAccount: serviceAccountKey() },
    });
    expect(rekeyed.status).toBe(200);
    const keyless = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'keyless', kind: 'gcs', gcs: { endpoint: gcs.endpoint, bucket: 'some-bucket' } });
    expect(keyless.status).toBe(201);
    expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${keyless.body.sourceId}`, { gcs: { endpoint: elsewhere } })).status).toBe(200);
  });

  it('suspends a source whose bucket the server refuses, with a clear lastError and no secret in it', async () => {
    const { bucket } = await ownBucket();
    const key = serviceAccountKey();
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'missing',
      kind: 'gcs',
      gcs: { endpoint: gcs.endpoint, bucket: unique('no-such-bucket'), serviceAccount: key },
      suspendAfterFailures: 1,
      syncIntervalSeconds: 5,
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const suspended = await waitFor(
      'suspension',
      async () => {
        const s = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`)).body;
        return s.status === 'SOURCE_STATUS_SUSPENDED' && s;
      },
      90_000,
      500,
    );
    expect(suspended.consecutiveFailures).toBe(1);
    expect(suspended.lastError).toMatch(/^NotFound: HTTP 404/);
    for (const secret of [key.private_key!, key.private_key!.split('\n')[1]!, key.private_key_id!]) expect(JSON.stringify(suspended)).not.toContain(secret);
  });

  it('resumes a scan killed with SIGKILL from its checkpoint instead of page one', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const src = unique('gcs-scan');
    await gcsBucket(storage, src);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 2400; i++) files.set(`d${String(i % 40).padStart(2, '0')}/f${String(i).padStart(5, '0')}.txt`, Buffer.from(`object ${i}`));
    await gcsPutAll(storage, src, '', files);
    // 30 keys a page: 80 pages.
    await worker!.kill('SIGTERM');
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '30' });
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'long-scan',
      kind: 'gcs',
      gcs: { endpoint: gcs.endpoint, bucket: src },
      batchSize: 200,
      syncIntervalSeconds: 86400,
    });
    const sourceId = created.body.sourceId as string;
    await expectScanResumesAfterKill({
      url: ls.url,
      bucket,
      sourceId,
      sql,
      random: seededRandom('gcs-source.test.ts'),
      objects: 2400,
      pageSize: 30,
      killWorker: async () => void (await worker!.kill('SIGKILL')),
      startWorker: async () => void (worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '30' })),
    });
    expect(await tree(lakeRoot)).toEqual(hashes(files));
  });
});
