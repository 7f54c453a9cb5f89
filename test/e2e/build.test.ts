/**
 * Production runs compiled JavaScript: this runs the real `npm run build`,
 * then starts the built API and worker exactly as `npm start` and
 * `npm run worker` do (plain node on dist/, no TypeScript at run time, the
 * worker on the prebuilt workflow bundle), drives a sync through the built
 * API, and stops both with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, setDefaultToken, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, s3Sha, sha256 } from '../support/objects.js';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '../../infra/worker-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('production build', () => {
  let ls: TestLakesync;
  const running: (WorkerProcess | ApiProcess)[] = [];
  const { minio } = inject('infra');

  beforeAll(async () => {
    await run('npm', ['run', 'build'], { cwd: root, timeout: 300_000 });
    ls = await startTestLakesync({ lake: 's3', worker: 'separate' });
  });
  afterAll(async () => {
    for (const p of running) await p.kill('SIGKILL');
    await ls?.stop();
  });

  it('emits JavaScript mirroring the runtime sources, the migrations and a workflow bundle', async () => {
    const built = await listFiles(join(root, 'dist'));
    for (const f of ['workers/api.js', 'workers/worker.js', 'workflows/index.js', 'activities/ingestion.js', 'metrics/registry.js', 'config/env.js', 'workflow-bundle.js']) expect(built).toContain(f);
    expect(built.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(built.filter((f) => f.startsWith('test/') || f.startsWith('bench/'))).toEqual([]);
    const migrations = (await readdir(join(root, 'db/migrations'))).filter((f) => f.endsWith('.sql'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const m of migrations) expect(await readFile(join(root, 'dist/db/migrations', m), 'utf8')).toBe(await readFile(join(root, 'db/migrations', m), 'utf8'));
    expect(await readFile(join(root, 'dist/workflow-bundle.js'), 'utf8')).toContain('syncRun');
  });

  it('runs the built API and worker with plain node through a sync, and both exit 0 on SIGTERM', async () => {
    // As production runs them: no test bundle handed in, NODE_ENV=production.
    const { WORKFLOW_BUNDLE_PATH: _testBundle, ...base } = ls.workerEnv;
    // Production's egress policy refuses loopback: the suite's MinIO is allowed as an operator would allow an internal store.
    const env = { ...base, NODE_ENV: 'production', LAKESYNC_AUTH_SECRET: ls.authSecret, LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32' };
    const worker = await startWorkerProcess(env, { built: true });
    running.push(worker);
    const api = await startApiProcess(env, { built: true });
    running.push(api);
    for (const p of [worker, api]) {
      expect(p.child.spawnargs.slice(1)).toEqual(['--enable-source-maps', '--no-warnings', `dist/workers/${p === worker ? 'worker' : 'api'}.js`]);
    }
    expect(worker.ready.workflowBundle).toBe(join(root, 'dist/workflow-bundle.js'));
    setDefaultToken(api.url, await ls.token());

    const s3 = minioClient();
    const srcBucket = unique('built-src');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    const expected = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const body = Buffer.from(`object ${i} `.repeat(i + 1));
      await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `in/${i}.txt`, Body: body }));
      expected.set(`${i}.txt`, sha256(body));
    }
    const bucket = unique('kb');
    expect((await call(api.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const src = await call(api.url, 'POST', `/${bucket}/sources`, {
      name: 'from-dist',
      kind: 's3',
      s3: { endpoint: minio.endpoint, region: minio.region, bucket: srcBucket, prefix: 'in/', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true },
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const jobId = (await call(api.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {})).body.jobId as string;
    const { job } = await waitForJob(api.url, bucket, src.body.sourceId, jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 40, objectsProcessed: 40, objectsFailed: 0 });
    const lakeBucket = (ls.lake as { bucket: string }).bucket;
    for (const [key, sha] of expected) expect(await s3Sha(s3, lakeBucket, `${bucket}/${key}`)).toBe(sha);

    await Promise.all([worker.kill('SIGTERM'), api.kill('SIGTERM')]);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await api.exited).toEqual({ code: 0, signal: null });
    // Structured logs in production: every line either process wrote is one JSON object.
    for (const p of [worker, api]) for (const line of p.output().split('\n').filter((l) => l.trim())) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
