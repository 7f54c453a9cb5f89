/**
 * SFTP sources end to end, against OpenSSH's sshd (from Debian's packages,
 * started by this file on loopback): a few hundred files synced byte for byte
 * with exact counters, deltas by size and mtime, deletes swept, filters,
 * password and key logins, wrong credentials and a changed host key
 * suspending the source, bad input refused, the CLI, and a worker killed
 * mid-scan resuming from its checkpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call } from '../support/http.js';
import { startTestLakesync, type TestLakesync } from '../support/lakesync.js';
import { corpus, sha256 } from '../support/objects.js';
import { startTestSshd, writeTree } from '../support/sshd.js';
import { cliAgainst } from '../support/cli-run.js';
import { sourceKindApi } from '../support/source-kind.js';
import { seededRandom } from '../support/seed.js';
import { expectScanResumesAfterKill } from '../support/scan-crash.js';
import type { SshdServer } from '../../infra/sshd-server.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

const digests = (files: Map<string, Buffer>) => new Map([...files].map(([k, v]) => [k, sha256(v)]));

describe('SFTP sources', () => {
  let ls: TestLakesync;
  let sshd: SshdServer;
  let sql: postgres.Sql;
  let worker: WorkerProcess | undefined;
  const random = seededRandom('sftp-source.test.ts');

  const { ownBucket, lakeTree, createSource, discover, suspended } = sourceKindApi(() => ls, 'sftp');
  /** A fresh directory in the server's home, and the settings that reach it with the password. */
  const place = (name: string) => {
    const dir = join(sshd.home, name);
    return { dir, sftp: { host: sshd.host, port: sshd.port, username: sshd.username, path: dir, hostKey: sshd.hostKey, password: sshd.password } };
  };
  beforeAll(async () => {
    [ls, sshd] = await Promise.all([startTestLakesync({ lake: 'filesystem', worker: 'separate' }), startTestSshd()]);
    worker = await startWorkerProcess(ls.workerEnv);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    await sshd?.stop();
  });

  it('syncs a few hundred files byte for byte with exact counters, then only what changed, and sweeps deletes', async () => {
    const { dir, sftp } = place('exports');
    const files = corpus(300);
    await writeTree(dir, files);
    // Beside the directory: never synced.
    await writeTree(sshd.home, new Map([['elsewhere/skip.txt', Buffer.from('no')]]));
    const bucket = await ownBucket();
    const { sourceId, sftp: shown } = await createSource(bucket, sftp);
    expect(shown).toEqual({ host: sshd.host, port: sshd.port, username: sshd.username, path: dir, hostKey: sshd.hostKey, credentialsSet: true });

    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
    const first = await discover(bucket, sourceId);
    expect(first.job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 300,
      objectsDiscovered: 300,
      objectsNew: 300,
      objectsProcessed: 300,
      objectsIndexed: 300,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(first.sync).toMatchObject({ status: 'SOURCE_STATUS_ACTIVE', objectsDiscovered: '300', objectsProcessed: '300', objectsIndexed: '300' });
    expect(await lakeTree(bucket)).toEqual(digests(files));
    expect(files.has('with space/ünïcødé 名前 file.txt') && files.get('big/large-object.bin')!.length).toBeGreaterThanOrEqual(32 * 1024 * 1024);

    expect((await discover(bucket, sourceId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 300, objectsDiscovered: 0 });

    // Change 3, add 2: exactly 5 go out. The change token is size + mtime (whole seconds), so the rewrites get a later mtime.
    const changed = [...files.keys()].filter((k) => k.startsWith('dir2/')).slice(0, 3);
    expect(changed).toHaveLength(3);
    for (const key of changed) files.set(key, randomBytes(100 + random.int(0, 1000)));
    files.set('new/one.txt', Buffer.from('new one'));
    files.set('new/two.txt', Buffer.from('new two'));
    await writeTree(dir, new Map([...changed, 'new/one.txt', 'new/two.txt'].map((k) => [k, files.get(k)!])), new Date(Date.now() + 3600_000));
    const delta = await discover(bucket, sourceId);
    expect(delta.job).toMatchObject({ objectsListed: 302, objectsDiscovered: 5, objectsNew: 2, objectsChanged: 3, objectsProcessed: 5, objectsFailed: 0 });
    expect(await lakeTree(bucket)).toEqual(digests(files));

    // Deletes at the source are swept from the lake.
    const gone = [...files.keys()].filter((k) => k.startsWith('dir4/')).slice(0, 4);
    for (const key of gone) {
      await unlink(join(dir, key));
      files.delete(key);
    }
    const swept = await discover(bucket, sourceId);
    expect(swept.job).toMatchObject({ objectsListed: 298, objectsDiscovered: 0, objectsDeleted: 4, objectsRemoved: 4 });
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });

  it('leaves out what a filter names', async () => {
    const { dir, sftp } = place('filtered');
    const files = corpus(40, { bigBytes: 1024 });
    await writeTree(dir, files);
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, sftp, { fileFilters: { excludePatterns: ['dir1/**', 'big/**'] } });
    const kept = new Map([...files].filter(([k]) => !k.startsWith('dir1/') && !k.startsWith('big/')));
    expect(kept.size).toBeLessThan(files.size - 2);
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 40, objectsDiscovered: kept.size, objectsProcessed: kept.size });
    expect(await lakeTree(bucket)).toEqual(digests(kept));
  });

  it('logs in with a private key as well as with a password, and never shows either', async () => {
    const { dir, sftp } = place('by-key');
    const files = new Map([
      ['a.txt', Buffer.from('a')],
      ['deep/b.txt', Buffer.from('b')],
    ]);
    await writeTree(dir, files);
    const { password: _password, ...withoutPassword } = sftp;
    const bucket = await ownBucket();
    const created = await createSource(bucket, { ...withoutPassword, privateKey: sshd.privateKey });
    expect(created.sftp).toMatchObject({ credentialsSet: true });
    expect(JSON.stringify(created)).not.toContain('PRIVATE KEY');
    expect((await discover(bucket, created.sourceId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 2 });
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });

  it('refuses bad settings and credentials at the edge, naming the field, and creates nothing', async () => {
    const bucket = await ownBucket();
    const { sftp } = place('refused');
    const { password: _password, ...noCredential } = sftp;
    const cases: [Record<string, unknown>, string][] = [
      [noCredential, 'sftp.password'],
      [{ ...sftp, privateKey: sshd.privateKey }, 'sftp.password'],
      [{ ...noCredential, privateKey: 'not a key' }, 'sftp.privateKey'],
      [{ ...sftp, passphrase: 'p' }, 'sftp.passphrase'],
      [{ ...sftp, hostKey: 'ssh-ed25519 AAAA' }, 'sftp.hostKey'],
      [{ ...sftp, path: 'relative/dir' }, 'sftp.path'],
      [{ ...sftp, port: 70000 }, 'sftp.port'],
      [{ ...sftp, host: 'bad host' }, 'sftp.host'],
      [{ ...sftp, username: 'us\u0000er' }, 'sftp.username'],
    ];
    for (const [body, field] of cases) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'bad', kind: 'sftp', sftp: body });
      expect(res.status, field).toBe(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(JSON.stringify(res.body)).not.toContain(sshd.password);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('suspends a source whose password is wrong, with a clear lastError that holds no secret', async () => {
    const { dir, sftp } = place('wrong-password');
    await writeTree(dir, new Map([['a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const { sourceId } = await createSource(bucket, { ...sftp, password: wrong }, { suspendAfterFailures: 1 });
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', objectsProcessed: 0 });
    const source = await suspended(bucket, sourceId);
    expect(source.lastError).toBe(`AuthenticationFailed: the server refused the credentials of user ${sshd.username}`);
    for (const secret of [wrong, sshd.password]) expect(JSON.stringify([source, job])).not.toContain(secret);
    expect(job.error).toBe(source.lastError);
  });

  it('suspends a source whose server shows another host key, and never sends it the password', async () => {
    const { dir, sftp } = place('host-key');
    await writeTree(dir, new Map([['a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const pinned = `SHA256:${createHash('sha256').update('the key we pinned').digest('base64').replace(/=+$/, '')}`;
    const { sourceId } = await createSource(bucket, { ...sftp, hostKey: pinned }, { suspendAfterFailures: 1 });
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', objectsListed: 0 });
    const source = await suspended(bucket, sourceId);
    expect(source.lastError).toBe(`HostKeyMismatch: the server at ${sshd.host}:${sshd.port} showed a host key other than the pinned ${pinned}`);
    expect(await lakeTree(bucket)).toEqual(new Map());
  });

  it('is created from a YAML file, synced and shown by the CLI, which never prints the password', async () => {
    const { dir, sftp } = place('cli');
    await writeTree(dir, new Map([['x/a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const scratch = await mkdtemp(join(tmpdir(), 'lakesync-sftp-cli-'));
    const file = join(scratch, 'sftp.yaml');
    await writeFile(
      file,
      [
        'name: from-yaml',
        'kind: sftp',
        'sftp:',
        `  host: ${sftp.host}`,
        `  port: ${sftp.port}`,
        `  username: ${sftp.username}`,
        `  path: ${dir}`,
        `  hostKey: "${sftp.hostKey}"`,
        `  password: "${sftp.password}"`,
        'syncIntervalSeconds: 3600',
      ].join('\n'),
    );
    const cli = await cliAgainst(ls, sshd.password);
    const created = await cli('sources', 'create', bucket, '--file', file, '--json');
    expect(created.code, created.out).toBe(0);
    const sourceId = (JSON.parse(created.out) as { sourceId: string }).sourceId;
    const synced = await cli('sync', bucket, sourceId, '--quiet');
    expect(synced.code, synced.out).toBe(0);
    expect(synced.out).toMatch(/processed:\s+1\b/);
    const shown = await cli('sources', 'get', bucket, sourceId);
    expect(shown.out).toContain(`sftp://${sshd.username}@${sshd.host}:${sshd.port}${dir}`);
    expect(shown.out).toMatch(/credentials:\s+set/);
    expect(await lakeTree(bucket)).toEqual(new Map([['x/a.txt', sha256(Buffer.from('a'))]]));
    await rm(scratch, { recursive: true, force: true });
  });

  it('resumes a scan killed mid-way from its checkpoint, not from the first page', async () => {
    const { dir, sftp } = place('crash');
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 1500; i++) files.set(`p${String(i % 40).padStart(2, '0')}/file-${String(i).padStart(5, '0')}.txt`, Buffer.from(`file ${i}`));
    await writeTree(dir, files);
    // Pages of 10 files: 150 listings.
    await worker?.kill('SIGTERM');
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '10' });
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, sftp, { batchSize: 200 });
    await expectScanResumesAfterKill({
      url: ls.url,
      bucket,
      sourceId,
      sql,
      random,
      objects: 1500,
      pageSize: 10,
      killWorker: async () => void (await worker!.kill('SIGKILL')),
      startWorker: async () => void (worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '10' })),
    });
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });
});
