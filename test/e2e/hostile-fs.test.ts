/**
 * Hostile filesystems and keys (issue #12): lakesync's own state and the
 * kernel's pseudo-filesystems are never a source, links swapped in after
 * discovery are refused at open time (the object is dead-lettered at once,
 * the job ends), the worker re-checks a source's root, and keys either lake
 * cannot store are refused with a 4xx naming `key`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { authHeader, call, waitForJob } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOTS';

describe('filesystem sources on a hostile tree', () => {
  let ls: TestLakesync;
  let base: string;
  let roots: string;
  let outside: string;
  let stateDir: string;
  let lakeDir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lakesync-hostile-'));
    roots = join(base, 'roots');
    outside = join(base, 'outside');
    stateDir = join(roots, 'app', '.lakesync');
    // The lake too lies under the roots: still never a source.
    lakeDir = join(roots, 'lake');
    await mkdir(stateDir, { recursive: true });
    await mkdir(outside);
    await writeFile(join(stateDir, 'auth-secret'), SECRET);
    await writeFile(join(roots, 'app', 'notes.md'), '# notes');
    await writeFile(join(outside, 'secret.txt'), SECRET);
    await writeFile(join(outside, 'b.txt'), SECRET);
    ls = await startTestLakesync({
      lake: 'filesystem',
      env: { LAKESYNC_FS_ROOTS: roots, LAKESYNC_STATE_DIR: stateDir, LAKE_DIR: lakeDir },
      activityOverrides: { retryBackoffMs: 20 },
    });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await rm(base, { recursive: true, force: true });
  });

  const lakeFiles = () => listFiles(join(lakeDir, bucket)).catch(() => [] as string[]);
  const createSource = (name: string, path: string, extra: object = {}) =>
    call(ls.url, 'POST', `/${bucket}/sources`, { name, kind: 'filesystem', filesystem: { path }, syncIntervalSeconds: 3600, ...extra });
  const sync = async (sourceId: string, action: 'discover' | 'ingest', body: object = {}) => {
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/${action}`, body);
    expect(run.status).toBe(200);
    return (await waitForJob(ls.url, bucket, sourceId, run.body.jobId)).job;
  };

  it("refuses lakesync's state and lake directories and anything outside the roots, directly or through a link", async () => {
    await symlink(stateDir, join(roots, 'state-link'));
    await symlink('/proc/self', join(roots, 'proc-link'));
    await mkdir(join(lakeDir, bucket), { recursive: true });
    for (const [path, problem] of [
      [stateDir, "is inside lakesync's state directory (LAKESYNC_STATE_DIR)"],
      [join(roots, 'state-link'), "is inside lakesync's state directory (LAKESYNC_STATE_DIR)"],
      [join(roots, 'proc-link'), 'is outside the allowed roots (LAKESYNC_FS_ROOTS)'],
      ['/proc/self', 'is outside the allowed roots'],
      [join(lakeDir, bucket), "is inside lakesync's lake directory (LAKE_DIR)"],
      ['/etc', 'is outside the allowed roots'],
    ]) {
      const res = await createSource(unique('bad'), path!);
      expect(res.status, path).toBe(400);
      expect(res.body.details).toEqual([{ field: 'filesystem.path', problem: expect.stringContaining(problem!) }]);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources ?? []).toEqual([]);
  });

  it('syncs a directory that contains the state directory without ever reading it', async () => {
    const created = await createSource('app', join(roots, 'app'));
    expect(created.status).toBe(201);
    const job = await sync(created.body.sourceId, 'discover');
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 1, objectsProcessed: 1 });
    expect(await lakeFiles()).toEqual(['notes.md']);
  });

  it('refuses files and directories swapped for links (or a FIFO) between discovery and copy, dead-lettering them at once', async () => {
    const src = join(roots, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    for (const k of ['0-first.txt', 'a.txt', 'p.txt', 'q.txt', 'sub/b.txt']) await writeFile(join(src, k), `inside ${k}`);
    execFileSync('mkfifo', [join(src, 'listed-never.fifo')]);
    // One object per run: discovery copies 0-first.txt and leaves the rest owed, so the swap lands between discovery and copy.
    const created = await createSource('swapped', src, { maxObjectsPerRun: 1, targetPrefix: 'swapped/' });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const discovered = await sync(sourceId, 'discover');
    expect(discovered).toMatchObject({ objectsListed: 5, objectsProcessed: 1, objectsDeferred: 4 });

    await rename(join(src, 'a.txt'), join(base, 'a.txt.orig'));
    await symlink(join(outside, 'secret.txt'), join(src, 'a.txt'));
    await rm(join(src, 'p.txt'));
    await symlink('/etc/passwd', join(src, 'p.txt'));
    await rm(join(src, 'q.txt'));
    execFileSync('mkfifo', [join(src, 'q.txt')]);
    await rename(join(src, 'sub'), join(base, 'sub.orig'));
    await symlink(outside, join(src, 'sub'));

    const job = await sync(sourceId, 'ingest');
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 4, objectsProcessed: 0, objectsFailed: 4 });
    const files = await lakeFiles();
    expect(files.filter((f) => f.startsWith('swapped/'))).toEqual(['swapped/0-first.txt']);
    const dead = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`);
    const byKey = Object.fromEntries(dead.body.deadLetters.map((d: { key: string; attempts: number; lastError: string }) => [d.key, d]));
    expect(Object.keys(byKey)).toEqual(['a.txt', 'p.txt', 'q.txt', 'sub/b.txt']);
    expect(byKey['a.txt'].lastError).toContain('is a symbolic link');
    expect(byKey['p.txt'].lastError).toContain('is a symbolic link');
    expect(byKey['q.txt'].lastError).toContain('is not a regular file');
    expect(byKey['sub/b.txt'].lastError).toContain('is reached through a symbolic link on its path');
    // Refused once, not retried: retrying cannot make a link safe.
    for (const d of Object.values(byKey) as { attempts: number }[]) expect(d.attempts).toBe(1);
    // Nothing from outside reached the lake, under any name.
    const passwd = await call(ls.url, 'GET', `/${bucket}/objects?prefix=swapped/`);
    expect(passwd.body.objects.map((o: { key: string }) => o.key)).toEqual(['swapped/0-first.txt']);
  });

  it('fails the job at the worker when the source directory is later replaced by a link out of the roots', async () => {
    const src = join(roots, 'moved');
    await mkdir(src);
    await writeFile(join(src, 'x.txt'), 'x');
    const created = await createSource('moved', src);
    expect(created.status).toBe(201);
    await rm(src, { recursive: true });
    await symlink(outside, src);
    const job = await sync(created.body.sourceId, 'discover');
    expect(job.status).toBe('JOB_STATUS_FAILED');
    expect(job.error).toContain('filesystem.path is outside the allowed roots (LAKESYNC_FS_ROOTS)');
    expect(await lakeFiles()).not.toContain('secret.txt');
    expect(await lakeFiles()).not.toContain('b.txt');
  });
});

describe.each(['filesystem', 's3'] as const)('keys the %s lake refuses', (lakeKind) => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  const bucket = unique('kb');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: lakeKind });
    sql = postgres(ls.databaseUrl, { max: 1 });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
  });

  const put = (key: string, body = 'x') => fetch(`${ls.url}/${bucket}/${key}`, { method: 'PUT', body, headers: authHeader(ls.url) });
  const catalog = async () => (await sql`select key from source_objects order by key collate "C"`).map((r) => r.key as string);
  const stored = async (): Promise<string[]> => {
    if (ls.lake.kind === 'filesystem') return listFiles(join(ls.lake.dir, bucket)).catch(() => []);
    const listed = await call(ls.url, 'GET', `/${bucket}/objects`);
    return listed.body.objects.map((o: { key: string }) => o.key);
  };
  const inS3 = async (key: string) =>
    ls.lake.kind === 's3' &&
    (await minioClient()
      .send(new HeadObjectCommand({ Bucket: ls.lake.bucket, Key: `${bucket}/${key}` }))
      .then(
        () => true,
        () => false,
      ));

  it.each([
    ['an empty segment', 'a//b', 'must not contain empty segments (//)'],
    ['a trailing slash', 'x/', 'must not end with / (a folder is not an object)'],
    ['a 300-byte segment', `d/${'s'.repeat(300)}`, 'must not have a segment longer than 255 bytes'],
    ['a leading empty segment', '/lead', 'must not start with /'],
  ])('refuses a key with %s with 400 naming key, storing nothing', async (_what, key, problem) => {
    const before = { catalog: await catalog(), stored: await stored() };
    const res = await put(key);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'INVALID_ARGUMENT', message: `key: ${problem}`, details: [{ field: 'key', problem }] });
    expect(await catalog()).toEqual(before.catalog);
    expect(await stored()).toEqual(before.stored);
    expect(await inS3(key)).toBe(false);
    expect((await call(ls.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('refuses a listing prefix that climbs out of the bucket, with or without a delimiter', async () => {
    const other = unique('kb-next');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: other })).status).toBe(201);
    expect((await fetch(`${ls.url}/${other}/secret/k.txt`, { method: 'PUT', body: 'theirs', headers: authHeader(ls.url) })).status).toBe(200);
    for (const prefix of [`../${other}/`, `../${other}/secret/k`, '../../', 'a/../../', './', 'a//b']) {
      for (const delimiter of ['', '&delimiter=/']) {
        const res = await call(ls.url, 'GET', `/${bucket}/objects?prefix=${encodeURIComponent(prefix)}${delimiter}`);
        expect(res.status, `${prefix}${delimiter}`).toBe(400);
        expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(['prefix']);
      }
    }
    // A partial last segment is text, not a folder: a dot there finds dot-files.
    expect((await put('dots/.hidden')).status).toBe(200);
    const dots = await call(ls.url, 'GET', `/${bucket}/objects?prefix=${encodeURIComponent('dots/.hid')}`);
    expect(dots.body.objects.map((o: { key: string }) => o.key)).toEqual(['dots/.hidden']);
    expect((await call(ls.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('lists a folder with delimiter / in pages of common prefixes and objects, the same on both lakes', async () => {
    for (const k of ['dl/a.txt', 'dl/b/1', 'dl/b/2', 'dl/c/deep/3', 'dl/d.txt']) expect((await put(k)).status).toBe(200);
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; pages < 10; pages++) {
      const res = await call(
        ls.url,
        'GET',
        `/${bucket}/objects?prefix=dl/&delimiter=/&max_keys=2${token ? `&continuation_token=${encodeURIComponent(token)}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.keyCount).toBeLessThanOrEqual(2);
      seen.push(...res.body.objects.map((o: { key: string }) => o.key), ...res.body.commonPrefixes);
      if (!res.body.isTruncated) break;
      token = res.body.nextContinuationToken;
    }
    expect(seen.sort()).toEqual(['dl/a.txt', 'dl/b/', 'dl/c/', 'dl/d.txt']);
  });

  it(
    lakeKind === 'filesystem' ? 'answers 409 for a file/folder clash, either way round' : 'stores a file and a folder of the same name, as S3 does',
    async () => {
      expect((await put('clash')).status).toBe(200);
      expect((await put('nest/inner')).status).toBe(200);
      const before = { catalog: await catalog(), stored: await stored() };
      const under = await put('clash/b');
      const over = await put('nest');
      if (lakeKind === 'filesystem') {
        expect(under.status).toBe(409);
        expect(await under.json()).toEqual({
          code: 'ALREADY_EXISTS',
          message: expect.stringMatching(/^key: /),
          details: [{ field: 'key', problem: 'needs a folder where the directory lake stores an object of that name' }],
        });
        expect(over.status).toBe(409);
        expect(await over.json()).toEqual({
          code: 'ALREADY_EXISTS',
          message: expect.stringMatching(/^key: /),
          details: [{ field: 'key', problem: 'names a folder of the directory lake that holds other objects' }],
        });
        expect(await catalog()).toEqual(before.catalog);
        expect(await stored()).toEqual(before.stored);
      } else {
        expect([under.status, over.status]).toEqual([200, 200]);
      }
      expect((await call(ls.url, 'GET', '/healthz')).status).toBe(200);
    },
  );

  it('skips S3 folder markers and dead-letters at once a source key the lake cannot store', async () => {
    const { minio } = inject('infra');
    const s3 = minioClient();
    const srcBucket = unique('odd-keys');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    // 4 segments of 225 bytes: a valid S3 key, but over 1024 bytes once under the 200-byte target prefix.
    const long = Array.from({ length: 4 }, (_, i) => String(i).repeat(225)).join('/');
    // A control character is a valid S3 key, but not a lake key: the API could never address it, and terminals would run it.
    const escaped = 'red\u001b[31m.txt';
    // Listed URL-encoded (so the control character survives); these must come back exactly as stored.
    const encoded = 'a+b%20c d.txt';
    for (const key of ['ok.txt', 'folder/', long, escaped, encoded])
      await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: key, Body: key.endsWith('/') ? '' : 'content' }));
    const prefix = `${'p'.repeat(199)}/`;
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('odd'),
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      targetPrefix: prefix,
      syncIntervalSeconds: 3600,
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const { job } = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsListed: 4, objectsProcessed: 2, objectsFailed: 2 });
    const dead = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`);
    expect(dead.body.deadLetters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: long, attempts: 1, lastError: expect.stringContaining('must be at most 1024 bytes') }),
        expect.objectContaining({ key: escaped, attempts: 1, lastError: expect.stringContaining('must not contain control characters (U+001B ESC') }),
      ]),
    );
    expect(dead.body.deadLetters).toHaveLength(2);
    expect((await sql`select key from source_objects where source_id = ${sourceId} order by key collate "C"`).map((r) => r.key)).toEqual([
      long,
      encoded,
      'ok.txt',
      escaped,
    ]);
    expect((await stored()).filter((k) => k.startsWith(prefix))).toEqual([`${prefix}${encoded}`, `${prefix}ok.txt`]);
  });

  it('refuses a target prefix with an empty segment, and accepts one trailing slash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-prefix-'));
    try {
      const bad = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('p'), kind: 'filesystem', filesystem: { path: dir }, targetPrefix: 'a//b' });
      expect(bad.status).toBe(400);
      expect(bad.body.details).toEqual([{ field: 'targetPrefix', problem: 'must not contain empty segments (//)' }]);
      const ok = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name: unique('p'),
        kind: 'filesystem',
        filesystem: { path: dir },
        targetPrefix: 'mirror/',
      });
      expect(ok.status).toBe(201);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
