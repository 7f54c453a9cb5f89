/**
 * Production runs compiled JavaScript: this runs the real `npm run build`
 * (its script from package.json, into a directory of its own so that the CLI
 * tests, which run dist/ when it exists, never see it half rebuilt), then
 * starts the built API and worker exactly as `npm start` and `npm run worker`
 * do (plain node on the build, no TypeScript at run time, the worker on the
 * prebuilt workflow bundle), drives a sync through the built API, and stops
 * both with SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { basename, delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { call, setDefaultToken, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, s3Sha, sha256 } from '../support/objects.js';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '../../infra/worker-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/**
 * `npm run build`'s own script, writing to `out` instead of dist/: tsc gets
 * `--outDir` and every `dist/` path becomes `out/`. `out` sits directly under
 * the repository root, as dist/ does, so the compiled code finds
 * node_modules and the migrations by the same relative paths.
 */
async function buildInto(out: string): Promise<void> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const tsc = 'tsc -p tsconfig.build.json';
  expect(pkg.scripts.build, 'the build script this test redirects').toContain(tsc);
  expect(pkg.scripts.build).toContain('dist/');
  const script = pkg.scripts.build!.replace(tsc, `${tsc} --outDir ${out}`).replaceAll('dist/', `${out}/`);
  await run('/bin/sh', ['-c', script], {
    cwd: root,
    timeout: 300_000,
    env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}` },
  });
}

describe('production build', () => {
  let ls: TestLakesync;
  const running: (WorkerProcess | ApiProcess)[] = [];
  const { minio } = inject('infra');
  let out: string;
  let dist: string;
  /** dist/ as it was before the build (inode and mtime, or absent), which others may be running. */
  const distNow = () =>
    stat(join(root, 'dist')).then(
      (s) => ({ ino: s.ino, mtimeMs: s.mtimeMs }),
      () => 'absent',
    );
  let distBefore: Awaited<ReturnType<typeof distNow>>;

  beforeAll(async () => {
    out = await mkdtemp(join(root, '.build-test-'));
    dist = basename(out);
    distBefore = await distNow();
    await buildInto(dist);
    ls = await startTestLakesync({ lake: 's3', worker: 'separate' });
  });
  afterAll(async () => {
    for (const p of running) await p.kill('SIGKILL');
    await ls?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('emits JavaScript mirroring the runtime sources, the migrations and a workflow bundle, leaving dist/ alone', async () => {
    expect(await distNow()).toEqual(distBefore);
    const built = await listFiles(out);
    for (const f of [
      'workers/api.js',
      'workers/worker.js',
      'workflows/index.js',
      'activities/ingestion.js',
      'metrics/registry.js',
      'config/env.js',
      'workflow-bundle.js',
    ])
      expect(built).toContain(f);
    expect(built.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(built.filter((f) => f.startsWith('test/') || f.startsWith('bench/'))).toEqual([]);
    const migrations = (await readdir(join(root, 'db/migrations'))).filter((f) => f.endsWith('.sql'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const m of migrations) expect(await readFile(join(out, 'db/migrations', m), 'utf8')).toBe(await readFile(join(root, 'db/migrations', m), 'utf8'));
    expect(await readFile(join(out, 'workflow-bundle.js'), 'utf8')).toContain('syncRun');
    // The gRPC server loads its .proto from beside the compiled code (the image keeps only dist/).
    const proto = 'proto/dodil/k3/ingest/v1/ingest.proto';
    expect(await readFile(join(out, proto), 'utf8')).toBe(await readFile(join(root, proto), 'utf8'));
  });

  it('runs the built API and worker with plain node through a sync, and both exit 0 on SIGTERM', async () => {
    // As production runs them: no test bundle handed in, NODE_ENV=production (whose strict egress policy admits the loopback MinIO only when told).
    const { WORKFLOW_BUNDLE_PATH: _testBundle, ...base } = ls.workerEnv;
    const env = { ...base, NODE_ENV: 'production', LAKESYNC_AUTH_SECRET: ls.authSecret, LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32' };
    const worker = await startWorkerProcess(env, { built: true, distDir: dist });
    running.push(worker);
    const api = await startApiProcess(env, { built: true, distDir: dist });
    running.push(api);
    // The flags `npm start` and `npm run worker` give node, against this build's directory.
    const scripts = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const [p, script] of [
      [worker, scripts.worker!],
      [api, scripts.start!],
    ] as const) {
      const arenas = 'MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} exec ';
      expect(script.startsWith(arenas)).toBe(true);
      expect(['node', ...p.child.spawnargs.slice(1)].join(' ')).toBe(script.slice(arenas.length).replace(' dist/', ` ${dist}/`));
      expect(p.child.spawnargs).toContain('--max-semi-space-size=16');
      // The spawned processes run with the same arenas (infra/worker-process.ts), unless this environment says otherwise.
      expect((await readFile(`/proc/${p.child.pid}/environ`, 'utf8')).split('\0')).toContain(`MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}`);
      // The script's prefix, run by the shell npm runs scripts with: 2 unless the variable is set already.
      const { MALLOC_ARENA_MAX: _set, ...unset } = process.env;
      const exported = async (extra: Record<string, string>) =>
        (await run('sh', ['-c', `${arenas}env`], { env: { ...unset, ...extra } })).stdout.split('\n').filter((l) => l.startsWith('MALLOC_ARENA_MAX='));
      expect(await exported({})).toEqual(['MALLOC_ARENA_MAX=2']);
      expect(await exported({ MALLOC_ARENA_MAX: '4' })).toEqual(['MALLOC_ARENA_MAX=4']);
    }
    expect(worker.ready.workflowBundle).toBe(join(out, 'workflow-bundle.js'));
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
      s3: {
        endpoint: minio.endpoint,
        region: minio.region,
        bucket: srcBucket,
        prefix: 'in/',
        accessKeyId: minio.accessKeyId,
        secretAccessKey: minio.secretAccessKey,
        forcePathStyle: true,
      },
      syncIntervalSeconds: 86400,
    });
    expect(src.status, JSON.stringify(src.body)).toBe(201);
    const jobId = (await call(api.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {})).body.jobId as string;
    const { job } = await waitForJob(api.url, bucket, src.body.sourceId, jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 40, objectsProcessed: 40, objectsFailed: 0 });
    const lakeBucket = (ls.lake as { bucket: string }).bucket;
    for (const [key, sha] of expected) expect(await s3Sha(s3, lakeBucket, `${bucket}/${key}`)).toBe(sha);

    await Promise.all([worker.kill('SIGTERM'), api.kill('SIGTERM')]);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await api.exited).toEqual({ code: 0, signal: null });
    // Structured logs in production: every line either process wrote is one JSON object.
    for (const p of [worker, api])
      for (const line of p
        .output()
        .split('\n')
        .filter((l) => l.trim()))
        expect(() => JSON.parse(line), line).not.toThrow();
  });
});
