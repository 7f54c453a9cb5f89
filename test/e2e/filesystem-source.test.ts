/**
 * The embedded default: a directory source synced into the directory lake,
 * and an S3 source streamed (not server-side copied) into that same lake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, waitFor, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { corpus, putAll, sha256, writeAll, tree } from '../support/objects.js';

const hashes = (files: Map<string, Buffer>, prefix = '') => new Map([...files].map(([k, v]) => [prefix + k, sha256(v)]));

describe('filesystem source into the directory lake', () => {
  let ls: TestLakesync;
  let srcDir: string;
  const files = corpus(200, { bigBytes: 32 * 1024 * 1024 + 7 });
  const scratch: string[] = [];
  /** Each test syncs into a bucket of its own, so what it finds in the lake is only what it put there. */
  const ownBucket = async () => {
    const name = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name })).status).toBe(201);
    return { bucket: name, lakeRoot: join((ls.lake as { dir: string }).dir, name) };
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    srcDir = await mkdtemp(join(tmpdir(), 'lakesync-src-'));
    await writeAll(srcDir, files);
    // A symlink is never followed out of the source.
    await symlink('/etc', join(srcDir, 'escape'));
  });
  afterAll(async () => {
    await ls?.stop();
    await rm(srcDir, { recursive: true, force: true });
    for (const d of scratch) await rm(d, { recursive: true, force: true });
  });

  it('syncs the tree byte for byte, then only what changed, then everything on fullSync', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'docs', kind: 'filesystem', filesystem: { path: srcDir }, batchSize: 40 });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;

    const first = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const r1 = await waitForJob(ls.url, bucket, sourceId, first.body.jobId);
    expect(r1.sync).toMatchObject({ objectsDiscovered: '200', objectsProcessed: '200', objectsIndexed: '200' });
    expect(await tree(lakeRoot)).toEqual(hashes(files));

    const idle = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sourceId, idle.body.jobId)).job.objectsDiscovered).toBe(0);

    const changed = [...files.keys()].filter((k) => k.startsWith('dir2/')).slice(0, 3);
    for (const key of changed) files.set(key, Buffer.from(`changed content of ${key}, longer than before`));
    files.set('added/a.md', Buffer.from('# a'));
    files.set('added/b.md', Buffer.from('# b'));
    await writeAll(srcDir, new Map([...changed, 'added/a.md', 'added/b.md'].map((k) => [k, files.get(k)!])));
    const delta = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const r3 = await waitForJob(ls.url, bucket, sourceId, delta.body.jobId);
    expect(r3.job).toMatchObject({ objectsDiscovered: 5, objectsProcessed: 5, objectsFailed: 0 });
    expect(await tree(lakeRoot)).toEqual(hashes(files));

    const full = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { fullSync: true });
    const r4 = await waitForJob(ls.url, bucket, sourceId, full.body.jobId);
    expect(r4.job).toMatchObject({ objectsDiscovered: 202, objectsProcessed: 202 });
    expect(await tree(lakeRoot)).toEqual(hashes(files));
  });

  it('marks objects deleted at the source after a complete listing', async () => {
    const { bucket } = await ownBucket();
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-del-'));
    scratch.push(dir);
    const few = new Map(['keep/1.txt', 'keep/2.txt', 'gone/3.txt'].map((k) => [k, Buffer.from(k)]));
    await writeAll(dir, few);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'deletions',
      kind: 'filesystem',
      filesystem: { path: dir },
      targetPrefix: 'deletions/',
    });
    const sourceId = created.body.sourceId as string;
    const first = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sourceId, first.body.jobId)).job).toMatchObject({ objectsDiscovered: 3, objectsProcessed: 3 });
    await rm(join(dir, 'gone/3.txt'));
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const r = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(r.job).toMatchObject({ objectsDiscovered: 0, objectsDeleted: 1, objectsListed: 2 });
  });

  it('streams an S3 source into the directory lake under a target prefix', async () => {
    const { bucket, lakeRoot } = await ownBucket();
    const s3 = minioClient();
    const { minio } = inject('infra');
    const srcBucket = unique('stream');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    const small = corpus(30, { bigBytes: 2 * 1024 * 1024 });
    await putAll(s3, srcBucket, '', small);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'streamed',
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      targetPrefix: 'mirror/',
    });
    expect(created.status).toBe(201);
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const r = await waitForJob(ls.url, bucket, created.body.sourceId, run.body.jobId);
    expect(r.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 30, objectsProcessed: 30 });
    expect(await tree(lakeRoot)).toEqual(hashes(small, 'mirror/'));
  });

  it('records a failed run with its error when the directory disappears', async () => {
    const { bucket } = await ownBucket();
    const gone = await mkdtemp(join(tmpdir(), 'lakesync-gone-'));
    await mkdir(join(gone, 'x'));
    await writeFile(join(gone, 'x', 'f.txt'), 'f');
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'vanishing', kind: 'filesystem', filesystem: { path: gone } });
    await rm(gone, { recursive: true, force: true });
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    const r = await waitForJob(ls.url, bucket, created.body.sourceId, run.body.jobId);
    expect(r.job.status).toBe('JOB_STATUS_FAILED');
    expect(r.job.error).toMatch(/filesystem.path does not exist/);
    // The controller takes in the run's outcome just after the job row is finished.
    const sync = await waitFor('failure counted', async () => {
      const s = await call(ls.url, 'GET', `/${bucket}/sources/${created.body.sourceId}/sync`);
      return s.body.consecutiveFailures === 1 && s.body;
    });
    expect(sync.lastError).toMatch(/filesystem.path does not exist/);
  });
});
