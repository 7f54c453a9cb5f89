/**
 * The `lakesync` CLI drives a full sync against `npm run dev`'s stack — the
 * real dev entry point in its own process, on the suite's Temporal and
 * Postgres — and its `--json` output matches the API's own answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { stopProcess, tetherToThisProcess } from '../../infra/tether.js';
import { waitFor } from '../support/http.js';
import { unique } from '../support/lakesync.js';
import { corpus, sha256, tree, writeAll } from '../support/objects.js';
import { gcsBucket, gcsPutAll, gcsStorage } from '../support/gcs.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const launcher = join(repoRoot, 'bin', 'lakesync.mjs');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('lakesync CLI against the dev stack', () => {
  let dev: ChildProcess | undefined;
  let devLog = '';
  let work: string;
  let stateDir: string;
  let srcDir: string;
  let url: string;
  let token: string;
  const bucket = unique('kb-cli');
  const files = corpus(50, { bigBytes: 2 * 1024 * 1024 + 3 });
  /** Every CLI output of the run, to check that none shows the token. */
  const outputs: string[] = [];

  /** One CLI invocation as a user would type it; env starts from nothing but PATH and HOME. */
  async function cli(args: string[], o: { env?: Record<string, string>; cwd?: string; auth?: boolean } = {}): Promise<CliResult> {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(o.auth === false ? {} : { LAKESYNC_URL: url, LAKESYNC_TOKEN: token }),
      ...o.env,
    };
    const child = spawn(process.execPath, [launcher, ...args], { cwd: o.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    outputs.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  /** `--json` output, checked to have exited 0 first so a failure shows its stderr. */
  async function cliJson<T = any>(args: string[]): Promise<T> {
    const r = await cli([...args, '--json']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout) as T;
  }

  async function api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** A bucket of the test's own, so any test runs alone and none sees another's sources. */
  async function ownBucket(): Promise<string> {
    const name = unique('kb-cli');
    expect((await api('POST', '/admin/buckets', { name })).status).toBe(201);
    return name;
  }

  /** A directory source over `names` (each file holding its own name), created through the API. */
  async function ownSource(into: string, names: string[], extra: Record<string, unknown> = {}): Promise<{ sourceId: string; dir: string }> {
    const dir = await mkdtemp(join(work, 'src-'));
    await writeAll(dir, new Map(names.map((n) => [n, Buffer.from(n)])));
    const created = await api('POST', `/${into}/sources`, { name: 'own', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600, ...extra });
    expect(created.status).toBe(201);
    return { sourceId: created.body.sourceId as string, dir };
  }

  /**
   * The first test's run: a bucket and a YAML-defined source created, and synced,
   * all through the CLI. Done once; a later test that needs a synced source runs
   * it itself when it runs alone.
   */
  let firstRun: Promise<{ created: CliResult; source: any; run: CliResult; sourceId: string; firstJobId: string }> | undefined;
  function syncedThroughCli() {
    firstRun ??= (async () => {
      const created = await cli(['buckets', 'create', bucket]);
      const yamlFile = join(work, 'source.yaml');
      await writeFile(
        yamlFile,
        [
          '# a directory source, polled hourly so no scheduled run interferes',
          'name: docs',
          'kind: filesystem',
          'filesystem:',
          `  path: ${JSON.stringify(srcDir)}`,
          'syncIntervalSeconds: 3600',
          'batchSize: 10',
          '',
        ].join('\n'),
      );
      const source = await cliJson(['sources', 'create', bucket, '--file', yamlFile]);
      const run = await cli(['sync', bucket, source.sourceId]);
      return { created, source, run, sourceId: source.sourceId as string, firstJobId: /^job: +(job_\w+)$/m.exec(run.stdout)?.[1] ?? '' };
    })();
    return firstRun;
  }

  /**
   * Waits until the source is idle (and `jobId`, if given, is its last sync: a
   * dry run is not one) and its state reads the same twice, so a CLI call and a
   * fetch made one after the other see one state.
   */
  async function settled(bucket: string, sourceId: string, jobId?: string): Promise<void> {
    let last = '';
    await waitFor(
      'the controller to take in the finished run',
      async () => {
        const [s, src] = await Promise.all([api(`GET`, `/${bucket}/sources/${sourceId}/sync`), api('GET', `/${bucket}/sources/${sourceId}`)]);
        const snapshot = JSON.stringify([s.body, src.body]);
        const idle =
          (jobId === undefined || s.body.lastJobId === jobId) &&
          !s.body.currentJobId &&
          s.body.live === true &&
          src.body.currentJobId === null &&
          src.body.nextSyncAt !== null;
        const same = snapshot === last;
        last = snapshot;
        return idle && same;
      },
      60_000,
      300,
    );
  }

  beforeAll(async () => {
    const infra = inject('infra');
    work = await mkdtemp(join(tmpdir(), 'lakesync-cli-'));
    // The dev stack's state dir is <work>/.lakesync, as `npm run dev` makes it in a clone, so <work> is where the dev-token fallback applies.
    stateDir = join(work, '.lakesync');
    srcDir = join(work, 'source');
    await writeAll(srcDir, files);
    const dbName = unique('lakesync_cli').replace(/-/g, '_');
    await ensureDatabase(infra.postgresAdminUrl, dbName);
    const port = await getPort({ host: '127.0.0.1' });
    url = `http://127.0.0.1:${port}`;
    dev = spawn(process.execPath, ['--import', 'tsx', 'workers/dev.ts'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LAKESYNC_STATE_DIR: stateDir,
        HOST: '127.0.0.1',
        PORT: String(port),
        GRPC_PORT: '0',
        // Given Temporal and Postgres, dev starts neither of its own.
        TEMPORAL_ADDRESS: infra.temporalAddress,
        DATABASE_URL: infra.postgresAdminUrl.replace(/\/postgres$/, `/${dbName}`),
        TEMPORAL_TASK_QUEUE: unique('lakesync-cli'),
        LAKESYNC_FS_ROOTS: tmpdir(),
        WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tetherToThisProcess(dev.pid!);
    dev.stdout!.on('data', (d: Buffer) => (devLog += d.toString()));
    dev.stderr!.on('data', (d: Buffer) => (devLog += d.toString()));
    const exited = new Promise<never>((_, reject) => dev!.once('exit', (code) => reject(new Error(`lakesync dev exited with ${code}:\n${devLog}`))));
    exited.catch(() => undefined);
    token = await Promise.race([
      exited,
      waitFor(
        'lakesync dev to serve and write its token',
        async () => {
          const health = await fetch(`${url}/healthz`).catch(() => null);
          if (health?.status !== 200) return null;
          return (await readFile(join(stateDir, 'dev-token'), 'utf8').catch(() => '')).trim() || null;
        },
        180_000,
        300,
      ),
    ]);
  });

  afterAll(async () => {
    if (dev) await stopProcess(dev);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('creates a bucket and a YAML-defined directory source, and syncs ~50 files into the lake', async () => {
    const { created, source, run } = await syncedThroughCli();
    expect(created, created.stderr).toMatchObject({ code: 0 });
    expect(created.stdout).toContain(`created bucket ${bucket}`);
    expect(source).toMatchObject({ bucket, name: 'docs', kind: 'filesystem', filesystem: { path: srcDir }, syncIntervalSeconds: 3600, batchSize: 10 });

    expect(run, run.stderr).toMatchObject({ code: 0 });
    // Off a terminal, progress goes to stderr as plain lines; the summary to stdout.
    expect(run.stderr).toMatch(/Discovery scan started \(job job_\w+\)/);
    expect(run.stderr).toMatch(/succeeded; discovered 50, processed 50, indexed 50, failed 0/);
    expect(run.stdout).toMatch(/^status: +SUCCEEDED$/m);
    expect(run.stdout).toMatch(/^discovered: +50$/m);
    expect(run.stdout).toMatch(/^processed: +50$/m);
    expect(run.stdout).toMatch(/^job: +job_\w+$/m);

    // The dev lake directory holds every file, byte for byte.
    expect(await tree(join(stateDir, 'lake', bucket))).toEqual(new Map([...files].map(([k, v]) => [k, sha256(v)])));
  });

  it("prints exactly the API's JSON for status, jobs and sources", async () => {
    const { sourceId, firstJobId } = await syncedThroughCli();
    expect(firstJobId).toMatch(/^job_/);
    await settled(bucket, sourceId, firstJobId);
    expect(await cliJson(['status', bucket, sourceId])).toEqual((await api('GET', `/${bucket}/sources/${sourceId}/sync`)).body);
    expect(await cliJson(['sources', 'get', bucket, sourceId])).toEqual((await api('GET', `/${bucket}/sources/${sourceId}`)).body);
    expect(await cliJson(['sources', 'get', sourceId, '--bucket', bucket])).toEqual((await api('GET', `/${bucket}/sources/${sourceId}`)).body);
    expect(await cliJson(['sources', 'list', bucket])).toEqual((await api('GET', `/${bucket}/sources`)).body);
    expect(await cliJson(['jobs', bucket])).toEqual((await api('GET', `/${bucket}/jobs`)).body);
    expect(await cliJson(['jobs', 'list', bucket, '--source', sourceId, '--status', 'succeeded', '--kind', 'discovery', '--page-size', '5'])).toEqual(
      (await api('GET', `/${bucket}/jobs?source_id=${sourceId}&status=JOB_STATUS_SUCCEEDED&kind=discovery&page_size=5`)).body,
    );
    const job = await cliJson(['jobs', 'get', bucket, firstJobId]);
    expect(job).toEqual((await api('GET', `/${bucket}/jobs/${firstJobId}`)).body);
    expect(job).toMatchObject({ jobId: firstJobId, status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 50, failedObjects: [] });
    expect(await cliJson(['buckets', 'list'])).toEqual((await api('GET', '/admin/buckets')).body);
    expect(await cliJson(['buckets', 'get', bucket])).toEqual((await api('GET', `/admin/buckets/${bucket}`)).body);
    expect(await cliJson(['dead-letters', bucket, sourceId])).toEqual({ deadLetters: [], nextPageToken: '', totalCount: 0 });

    const human = await cli(['status', bucket, sourceId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^status: +ACTIVE$/m);
    expect(human.stdout).toMatch(/^last job: +job_\w+$/m);
  });

  it('maps --dry-run and --full to the discover body, and prints the finished job with --json', async () => {
    const mine = await ownBucket();
    const { sourceId, dir } = await ownSource(mine, ['a.txt', 'b/c.txt', 'd.txt']);
    const first = await cliJson(['sync', mine, sourceId]);
    expect(first).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 3, objectsProcessed: 3 });
    await settled(mine, sourceId, first.jobId);

    await writeFile(join(dir, 'added.txt'), 'one more\n');
    const dry = await cliJson(['sync', mine, sourceId, '--dry-run']);
    expect(dry).toMatchObject({ dryRun: true, fullSync: false, status: 'JOB_STATUS_SUCCEEDED', objectsNew: 1, objectsProcessed: 0 });
    expect(dry).toEqual((await api('GET', `/${mine}/jobs/${dry.jobId}`)).body);
    expect((await tree(join(stateDir, 'lake', mine))).has('added.txt')).toBe(false);

    await settled(mine, sourceId);
    const full = await cliJson(['sync', mine, sourceId, '--full']);
    expect(full).toMatchObject({ fullSync: true, dryRun: false, status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 4, objectsProcessed: 4 });
    expect((await tree(join(stateDir, 'lake', mine))).get('added.txt')).toBe(sha256(Buffer.from('one more\n')));

    // Nothing dead-lettered: retry dispatches nothing and says so.
    await settled(mine, sourceId, full.jobId);
    const retry = await cliJson(['retry', mine, sourceId]);
    expect(retry).toEqual({ jobId: null, accepted: true, message: 'Dispatched 0 objects', dispatched: 0 });
  });

  it('draws a live progress bar when stdout is a terminal', async () => {
    const mine = await ownBucket();
    const { sourceId } = await ownSource(
      mine,
      Array.from({ length: 6 }, (_, i) => `bar-${i}.txt`),
    );
    const command = [process.execPath, launcher, 'sync', mine, sourceId, '--full', '--interval', '200'].map((a) => `'${a}'`).join(' ');
    // script(1) runs the CLI on a pseudo-terminal, as a person's shell would.
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LAKESYNC_URL: url, LAKESYNC_TOKEN: token, TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    outputs.push(screen);
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/█+ 100% \| processed 6\/6 \| discovered 6 \| indexed 6 \| failed 0 \| succeeded/);
    expect(screen).toMatch(/status: +SUCCEEDED/);
  });

  it('creates a gcs source from a YAML file, syncs it and shows where it reads', async () => {
    const bucket = await ownBucket();
    const { endpoint } = inject('infra').gcs;
    const storage = gcsStorage();
    const src = unique('gcs-cli');
    await gcsBucket(storage, src);
    await gcsPutAll(storage, src, 'docs/', new Map(['a.txt', 'sub/b c.txt'].map((k) => [k, Buffer.from(k)])));
    const def = join(work, 'gcs.yaml');
    await writeFile(
      def,
      [
        'name: gcs',
        'kind: gcs',
        'gcs:',
        `  endpoint: ${JSON.stringify(endpoint)}`,
        `  bucket: ${src}`,
        '  prefix: docs/',
        'syncIntervalSeconds: 3600',
        '',
      ].join('\n'),
    );
    const source = await cliJson(['sources', 'create', bucket, '--file', def]);
    expect(source).toMatchObject({ kind: 'gcs', gcs: { endpoint, bucket: src, prefix: 'docs/', credentialsSet: false } });
    const run = await cli(['sync', bucket, source.sourceId, '--json', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 2, objectsProcessed: 2 });
    const shown = await cli(['sources', 'get', bucket, source.sourceId]);
    expect(shown.stdout).toContain(`gs://${src}/docs/ (${endpoint})`);
    expect(shown.stdout).toMatch(/^credentials: +not set$/m);
  });

  it('exits 1 when the job fails, after printing it', async () => {
    const bucket = await ownBucket();
    const gone = join(work, 'gone');
    await mkdir(gone);
    const def = join(work, 'gone.json');
    await writeFile(def, JSON.stringify({ name: 'gone', kind: 'filesystem', filesystem: { path: gone }, syncIntervalSeconds: 3600 }));
    const src = await cliJson(['sources', 'create', '--bucket', bucket, '--file', def]);
    await rm(gone, { recursive: true });

    const r = await cli(['sync', bucket, src.sourceId, '--json', '--quiet']);
    expect(r.code).toBe(1);
    const job = JSON.parse(r.stdout);
    expect(job).toMatchObject({ sourceId: src.sourceId, status: 'JOB_STATUS_FAILED', error: expect.stringMatching(/filesystem.path does not exist/) });
    expect(job).toEqual((await api('GET', `/${bucket}/jobs/${job.jobId}`)).body);
    expect(r.stderr).toBe(`error: job ${job.jobId} ended JOB_STATUS_FAILED: ${job.error}\n`);

    const human = await cli(['sync', bucket, src.sourceId]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^status: +FAILED$/m);
    expect(human.stderr).toMatch(/failed; discovered 0, processed 0/);

    // --purge asks the API to remove its lake objects too (none here: it never synced).
    const purged = await cli(['sources', 'delete', bucket, src.sourceId, '--purge', '--json']);
    expect(purged.code, purged.stderr).toBe(0);
    expect(JSON.parse(purged.stdout)).toEqual({ sourceId: src.sourceId, purge: { workflowId: `lakesync-purge-${src.sourceId}`, objects: 0 } });
  });

  it('exits 2 on bad usage, before any request', async () => {
    const sourceId = 'src_any';
    for (const args of [
      ['status', bucket],
      ['sources', 'get'],
      ['sources', 'get', bucket, sourceId, 'extra'],
      ['sources', 'create', bucket],
      ['sources', 'create', bucket, '--file', join(work, 'missing.yaml')],
      ['jobs', bucket, '--status', 'bogus'],
      ['buckets', 'list', '--page-size', '0'],
      ['frobnicate'],
      ['buckets'],
    ]) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/error|Usage/);
    }
    const missing = await cli(['status', bucket]);
    expect(missing.stderr).toContain("missing required argument 'sourceId'");
    const noBucket = await cli(['sources', 'get']);
    expect(noBucket.stderr).toContain('missing required arguments: <bucket> <sourceId>');
    const badUrl = await cli(['buckets', 'list', '--url', 'ftp://example.invalid']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--url / LAKESYNC_URL: must be an http or https URL');
  });

  it("exits 1 with the API's error message on stderr", async () => {
    const bucket = await ownBucket();
    const r = await cli(['status', 'no-such-bucket', 'src_any']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: bucket no-such-bucket not found (NOT_FOUND, HTTP 404)');

    const j = await cli(['sources', 'get', bucket, 'src_nope', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stderr)).toEqual({ code: 'NOT_FOUND', message: 'source src_nope not found', details: [] });

    const taken = await cli(['buckets', 'create', bucket]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`name: bucket ${bucket} already exists`);
  });

  it('surfaces the field the API names in a bad YAML source file, and creates nothing', async () => {
    const bucket = await ownBucket();
    const before = (await api('GET', `/${bucket}/sources`)).body.totalCount as number;
    const bad = join(work, 'bad.yaml');
    await writeFile(
      bad,
      ['name: too-fast', 'kind: filesystem', 'filesystem:', `  path: ${JSON.stringify(srcDir)}`, 'syncIntervalSeconds: 1', 'colour: blue', ''].join('\n'),
    );
    const r = await cli(['sources', 'create', bucket, '--file', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/syncIntervalSeconds: Too small: expected number to be >=5/);
    expect(r.stderr).toMatch(/colour: is not a known field/);
    expect(r.stderr).toContain('INVALID_ARGUMENT, HTTP 400');

    const outside = join(work, 'outside.json');
    await writeFile(outside, JSON.stringify({ name: 'etc', kind: 'filesystem', filesystem: { path: '/etc' } }));
    const denied = await cli(['sources', 'create', bucket, '--file', outside]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/filesystem\.path: /);

    // Not YAML at all, or not a mapping: refused before the API is asked (usage, exit 2).
    const broken = join(work, 'broken.yaml');
    await writeFile(broken, 'name: [unclosed\nkind: filesystem\n');
    const b = await cli(['sources', 'create', bucket, '--file', broken]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`--file ${broken}: is not valid YAML or JSON`);
    const list = join(work, 'list.yaml');
    await writeFile(list, '- name: a\n');
    const l = await cli(['sources', 'create', bucket, '--file', list]);
    expect(l.code).toBe(2);
    expect(l.stderr).toContain('must be a mapping of source settings');

    expect((await api('GET', `/${bucket}/sources`)).body.totalCount).toBe(before);
    expect(before).toBe(0);
  });

  it('pauses, resumes, updates and deletes a source, then the bucket', async () => {
    const bucket = await ownBucket();
    const { sourceId } = await ownSource(bucket, ['one.txt', 'two.txt'], { batchSize: 10 });
    // Synced, so its objects are in the lake when it is deleted.
    const synced = await cliJson(['sync', bucket, sourceId]);
    expect(synced).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 2 });
    await settled(bucket, sourceId, synced.jobId);
    const paused = await cliJson(['sources', 'pause', bucket, sourceId, '--reason', 'maintenance']);
    // The whole source, already paused.
    expect(paused).toMatchObject({ sourceId, bucket, paused: true, pauseReason: 'maintenance', status: 'SOURCE_STATUS_PAUSED', syncIntervalSeconds: 3600 });
    const whilePaused = await waitFor(
      'the pause to show',
      async () => {
        const s = await cliJson(['status', bucket, sourceId]);
        return s.paused === true && s;
      },
      30_000,
      200,
    );
    expect(whilePaused).toMatchObject({ status: 'SOURCE_STATUS_PAUSED', pauseReason: 'maintenance' });

    const resumed = await cli(['sources', 'resume', '--bucket', bucket, sourceId]);
    expect(resumed, resumed.stderr).toMatchObject({ code: 0, stdout: `resumed source ${sourceId}\n` });
    await waitFor('the resume to show', async () => (await cliJson(['status', bucket, sourceId])).paused === false, 30_000, 200);

    const patch = join(work, 'patch.yml');
    await writeFile(patch, 'syncIntervalSeconds: 7200\nfileFilters:\n  excludePatterns: ["**/*.tmp"]\n');
    const updated = await cliJson(['sources', 'update', bucket, sourceId, '--file', patch]);
    expect(updated).toMatchObject({ sourceId, syncIntervalSeconds: 7200, batchSize: 10, fileFilters: { excludePatterns: ['**/*.tmp'] } });
    expect((await api('GET', `/${bucket}/sources/${sourceId}`)).body).toMatchObject({ syncIntervalSeconds: 7200 });

    const busy = await cli(['buckets', 'delete', bucket]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`bucket: ${bucket} still has 1 source; delete them first`);

    const deleted = await cli(['sources', 'delete', bucket, sourceId]);
    expect(deleted, deleted.stderr).toMatchObject({ code: 0, stdout: `deleted source ${sourceId}\n` });
    const gone = await cli(['sources', 'get', bucket, sourceId]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`source ${sourceId} not found`);
    expect((await api('GET', `/${bucket}/sources/${sourceId}`)).status).toBe(404);

    // Its objects stay in the lake, so the bucket is not empty.
    const notEmpty = await cli(['buckets', 'delete', bucket]);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.stderr).toContain(`bucket: ${bucket} is not empty`);

    const spare = unique('kb-spare');
    expect((await cli(['buckets', 'create', spare])).code).toBe(0);
    expect((await cliJson(['buckets', 'get', spare])).name).toBe(spare);
    const dropped = await cli(['buckets', 'delete', spare, '--json']);
    expect(dropped).toMatchObject({ code: 0, stdout: '' });
    expect((await api('GET', `/admin/buckets/${spare}`)).status).toBe(404);
    expect((await cli(['buckets', 'get', spare])).code).toBe(1);
  });

  it('falls back to the dev token `npm run dev` writes, and says when there is none', async () => {
    // <work> is to this stack what a clone is to `npm run dev`: its .lakesync/dev-token is read.
    const fromFile = await cli(['buckets', 'list', '--json', '--url', url], { auth: false, cwd: work });
    expect(fromFile, fromFile.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(fromFile.stdout)).toEqual((await api('GET', '/admin/buckets')).body);

    const elsewhere = await mkdtemp(join(tmpdir(), 'lakesync-cli-empty-'));
    const none = await cli(['buckets', 'list'], { auth: false, cwd: elsewhere, env: { LAKESYNC_URL: url } });
    await rm(elsewhere, { recursive: true, force: true });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/UNAUTHENTICATED, HTTP 401/);

    const bad = await cli(['buckets', 'list', '--token', 'not-a-jwt']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/UNAUTHENTICATED, HTTP 401/);
  });

  it('creates, lists, shows and revokes a service-account key, printing its secret once', async () => {
    const limited = await ownBucket();
    const made = await cli(['keys', 'create', '--scope', 'read,write', '--bucket', limited, '--description', 'from the CLI']);
    expect(made, made.stderr).toMatchObject({ code: 0 });
    const id = /^access key id: +(LKSA[A-Z0-9]{16})$/m.exec(made.stdout)?.[1];
    const secret = /^secret access key: +(\S{40})$/m.exec(made.stdout)?.[1];
    expect(id && secret, made.stdout).toBeTruthy();
    expect(made.stdout).toContain('it will not be shown again');
    const shown = await api('GET', `/admin/keys/${id}`);
    expect(shown.body).toMatchObject({ accessKeyId: id, scopes: ['read', 'write'], buckets: [limited], description: 'from the CLI' });

    // --json prints the API's answer exactly, secret included; the warning goes to stderr.
    const r = await cli(['keys', 'create', '--scope', 'admin', '--json']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ scopes: ['admin'], buckets: null });
    expect(json.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(r.stderr).toContain('it will not be shown again');

    const listed = await cliJson(['keys', 'list']);
    expect(listed).toEqual((await api('GET', '/admin/keys')).body);
    expect(listed.keys.map((k: { accessKeyId: string }) => k.accessKeyId)).toEqual(expect.arrayContaining([id, json.accessKeyId]));
    const table = await cli(['keys', 'list']);
    expect(table.stdout).toMatch(new RegExp(`^${id} +read,write +${limited} `, 'm'));
    expect(await cliJson(['keys', 'get', id!])).toEqual(shown.body);
    // The secret was printed by create alone.
    for (const out of [JSON.stringify(listed), table.stdout, JSON.stringify(shown.body)]) {
      expect(out.includes(secret!)).toBe(false);
      expect(out.includes(json.secretAccessKey)).toBe(false);
    }

    const revoked = await cli(['keys', 'revoke', id!]);
    expect(revoked).toMatchObject({ code: 0, stdout: `revoked key ${id}\n` });
    expect((await api('GET', `/admin/keys/${id}`)).status).toBe(404);
    expect((await cliJson(['keys', 'list'])).keys.map((k: { accessKeyId: string }) => k.accessKeyId)).not.toContain(id);
    const again = await cli(['keys', 'revoke', id!]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`key ${id} not found`);
    const noScope = await cli(['keys', 'create']);
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain("required option '--scope <scopes>' not specified");
    const badScope = await cli(['keys', 'create', '--scope', 'root']);
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain('must be read, write, admin');
  });

  it('never prints the token', async () => {
    // Its own calls, successes and failures, --json and not; with the other tests, every output of the run is checked.
    const before = outputs.length;
    for (const args of [
      ['buckets', 'list'],
      ['buckets', 'list', '--json'],
      ['status', 'no-such-bucket', 'src_any'],
      ['sources', 'get', 'no-such-bucket', 'src_any', '--json'],
      ['jobs', 'no-such-bucket', '--status', 'bogus'],
    ])
      await cli(args);
    expect(outputs.length - before).toBe(10);
    expect(outputs.join('')).toContain('no-such-bucket');
    for (const out of outputs) expect(out.includes(token)).toBe(false);
  });
});
