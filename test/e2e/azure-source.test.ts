/**
 * Azure Blob Storage sources end to end, against Azurite (Microsoft's
 * emulator, started by this file on loopback): a few hundred blobs synced
 * byte for byte with exact counters, deltas by ETag, deletes swept, filters,
 * the three ways to give credentials, wrong credentials suspending the source,
 * and a worker killed mid-scan resuming from its checkpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { corpus, sha256 } from '../support/objects.js';
import { azureContainer, startTestAzurite, uploadAll } from '../support/azurite.js';
import { cliAgainst } from '../support/cli-run.js';
import { sourceKindApi } from '../support/source-kind.js';
import { seededRandom } from '../support/seed.js';
import { expectScanResumesAfterKill } from '../support/scan-crash.js';
import type { AzuriteServer } from '../../infra/azurite-server.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

const digests = (files: Map<string, Buffer>) => new Map([...files].map(([k, v]) => [k, sha256(v)]));

describe('Azure Blob Storage sources', () => {
  let ls: TestLakesync;
  let azurite: AzuriteServer;
  let sql: postgres.Sql;
  let worker: WorkerProcess | undefined;
  const random = seededRandom('azure-source.test.ts');

  const { ownBucket, lakeTree, createSource, discover } = sourceKindApi(() => ls, 'azure');
  const withKey = (container: string, prefix = '') => ({
    account: azurite.account,
    endpoint: azurite.endpoint,
    container,
    prefix,
    accountKey: azurite.accountKey,
  });
  beforeAll(async () => {
    [ls, azurite] = await Promise.all([startTestLakesync({ lake: 'filesystem', worker: 'separate' }), startTestAzurite()]);
    worker = await startWorkerProcess(ls.workerEnv);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    await azurite?.stop();
  });

  it('syncs a few hundred blobs byte for byte with exact counters, then only what changed, and sweeps deletes', async () => {
    const container = await azureContainer(azurite, unique('src'));
    const files = corpus(300);
    await uploadAll(container, 'exports/', files);
    // Outside the prefix: never synced.
    await container.getBlockBlobClient('elsewhere/skip.txt').uploadData(Buffer.from('no'));
    const bucket = await ownBucket();
    const { sourceId, azure } = await createSource(bucket, withKey(container.containerName, 'exports/'));
    expect(azure).toEqual({
      account: azurite.account,
      endpoint: azurite.endpoint,
      container: container.containerName,
      prefix: 'exports/',
      credentialsSet: true,
    });

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

    // Change 3, add 2: exactly 5 go out.
    const changed = [...files.keys()].filter((k) => k.startsWith('dir2/')).slice(0, 3);
    expect(changed).toHaveLength(3);
    for (const key of changed) files.set(key, randomBytes(100 + random.int(0, 1000)));
    files.set('new/one.txt', Buffer.from('new one'));
    files.set('new/two.txt', Buffer.from('new two'));
    await uploadAll(container, 'exports/', new Map([...changed, 'new/one.txt', 'new/two.txt'].map((k) => [k, files.get(k)!])));
    const delta = await discover(bucket, sourceId);
    expect(delta.job).toMatchObject({ objectsListed: 302, objectsDiscovered: 5, objectsNew: 2, objectsChanged: 3, objectsProcessed: 5, objectsFailed: 0 });
    expect(await lakeTree(bucket)).toEqual(digests(files));

    // Deletes at the source are swept from the lake.
    const gone = [...files.keys()].filter((k) => k.startsWith('dir4/')).slice(0, 4);
    for (const key of gone) {
      await container.deleteBlob(`exports/${key}`);
      files.delete(key);
    }
    const swept = await discover(bucket, sourceId);
    expect(swept.job).toMatchObject({ objectsListed: 298, objectsDiscovered: 0, objectsDeleted: 4, objectsRemoved: 4 });
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });

  it('leaves out what a filter names', async () => {
    const container = await azureContainer(azurite, unique('flt'));
    const files = corpus(40, { bigBytes: 1024 });
    await uploadAll(container, '', files);
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, withKey(container.containerName), { fileFilters: { excludePatterns: ['dir1/**', 'big/**'] } });
    const kept = new Map([...files].filter(([k]) => !k.startsWith('dir1/') && !k.startsWith('big/')));
    expect(kept.size).toBeLessThan(files.size - 2);
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 40, objectsDiscovered: kept.size, objectsProcessed: kept.size });
    expect(await lakeTree(bucket)).toEqual(digests(kept));
  });

  it('reads with a SAS token or a connection string as well as with the account key', async () => {
    const container = await azureContainer(azurite, unique('sas'));
    const files = new Map([
      ['a.txt', Buffer.from('a')],
      ['deep/b.txt', Buffer.from('b')],
    ]);
    await uploadAll(container, '', files);
    const sas = generateBlobSASQueryParameters(
      { containerName: container.containerName, permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(azurite.account, azurite.accountKey),
    ).toString();
    const viaSas = { account: azurite.account, endpoint: azurite.endpoint, container: container.containerName, sasToken: sas };
    const viaString = {
      container: container.containerName,
      connectionString: `BlobEndpoint=${azurite.endpoint};AccountName=${azurite.account};AccountKey=${azurite.accountKey}`,
    };
    for (const azure of [viaSas, viaString]) {
      const bucket = await ownBucket();
      const created = await createSource(bucket, azure);
      expect(created.azure).toMatchObject({ account: azurite.account, endpoint: azurite.endpoint, credentialsSet: true });
      expect(JSON.stringify(created)).not.toContain(azurite.accountKey);
      expect(JSON.stringify(created)).not.toContain(sas);
      expect((await discover(bucket, created.sourceId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 2 });
      expect(await lakeTree(bucket)).toEqual(digests(files));
    }
  });

  it("retries blobs it cannot read, dead-letters them with Azure's reason, and replays them once the SAS may read", async () => {
    const container = await azureContainer(azurite, unique('dl'));
    const files = new Map([0, 1, 2].map((i) => [`f${i}.txt`, Buffer.from(`file ${i}`)] as [string, Buffer]));
    await uploadAll(container, '', files);
    const sas = (permissions: string) =>
      generateBlobSASQueryParameters(
        { containerName: container.containerName, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3600_000) },
        new StorageSharedKeyCredential(azurite.account, azurite.accountKey),
      ).toString();
    const bucket = await ownBucket();
    // List but not read: the scan finds every blob, every copy is refused.
    const { sourceId } = await createSource(bucket, {
      account: azurite.account,
      endpoint: azurite.endpoint,
      container: container.containerName,
      sasToken: sas('l'),
    });
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsListed: 3, objectsDiscovered: 3, objectsProcessed: 0, objectsFailed: 3 });
    expect(job.failedObjects.map((o: { key: string }) => o.key)).toEqual([...files.keys()]);
    for (const failed of job.failedObjects) {
      expect(failed.attempts).toBe(3);
      expect(failed.error).toMatch(/^AuthorizationPermissionMismatch|not authorized/);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.totalCount).toBe(3);

    expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { azure: { sasToken: sas('rl') } })).status).toBe(200);
    const replay = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { retryFailed: true });
    expect(replay.body).toMatchObject({ accepted: true, dispatched: 3 });
    const done = await waitForJob(ls.url, bucket, sourceId, replay.body.jobId);
    expect(done.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 3, objectsFailed: 0 });
    expect(await lakeTree(bucket)).toEqual(digests(files));
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/dead-letters`)).body.totalCount).toBe(0);
  });

  it('refuses a create part without exactly one credential, naming the field, and creates nothing', async () => {
    const bucket = await ownBucket();
    const cases: [Record<string, unknown>, string][] = [
      [{ account: azurite.account, container: 'box' }, 'azure.accountKey'],
      [{ account: azurite.account, container: 'box', accountKey: azurite.accountKey, sasToken: 'sv=1&sig=x' }, 'azure.accountKey'],
      [{ container: 'box', connectionString: 'AccountName=acct;AccountKey=not base64!' }, 'azure.connectionString'],
      [{ account: 'Not_An_Account', container: 'box', accountKey: azurite.accountKey }, 'azure.account'],
      [{ account: azurite.account, container: 'bo\u0000x', accountKey: azurite.accountKey }, 'azure.container'],
    ];
    for (const [azure, field] of cases) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'bad', kind: 'azure', azure });
      expect(res.status, field).toBe(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(JSON.stringify(res.body)).not.toContain(azurite.accountKey);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('never sends its sealed SAS to a new endpoint or account: a PATCH that moves them must give a credential again', async () => {
    const container = await azureContainer(azurite, unique('moved'));
    await uploadAll(container, '', new Map([['a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const oldSas = generateBlobSASQueryParameters(
      { containerName: container.containerName, permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(azurite.account, azurite.accountKey),
    ).toString();
    const { sourceId } = await createSource(bucket, {
      account: azurite.account,
      endpoint: azurite.endpoint,
      container: container.containerName,
      sasToken: oldSas,
    });
    // A server of the tenant's own, which records every request line it is sent.
    const seen: string[] = [];
    const recorder = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
      res
        .writeHead(403, { 'content-type': 'application/xml', 'x-ms-request-id': 'r', 'x-ms-error-code': 'AuthenticationFailed' })
        .end('<Error><Code>AuthenticationFailed</Code></Error>');
    });
    await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
    const elsewhere = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/${azurite.account}`;
    try {
      for (const azure of [{ endpoint: elsewhere }, { endpoint: elsewhere, prefix: 'p/' }]) {
        const res = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { azure });
        expect(res.status, JSON.stringify(azure)).toBe(400);
        expect(res.body.details[0].field).toBe('azure.accountKey');
      }
      const kept = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      expect(kept.azure).toMatchObject({ account: azurite.account, endpoint: azurite.endpoint, prefix: '' });
      // Same endpoint given again, or a change that does not move it: nothing to refuse.
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { azure: { endpoint: azurite.endpoint, prefix: '' } })).status).toBe(200);
      // With a credential of its own the move is the tenant's to make; the old SAS still never leaves.
      const moved = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { azure: { endpoint: elsewhere, sasToken: 'sv=2025-01-05&sp=rl&sig=bmV3' } });
      expect(moved.status).toBe(200);
      expect((await discover(bucket, sourceId)).job.status).toBe('JOB_STATUS_FAILED');
      expect(seen.length).toBeGreaterThan(0);
      const sig = new URLSearchParams(oldSas).get('sig')!;
      for (const line of seen) {
        expect(line).toContain('sig=bmV3');
        expect(line).not.toContain(encodeURIComponent(sig));
        expect(line).not.toContain(sig);
      }
    } finally {
      await new Promise((r) => recorder.close(r));
    }
  });

  it('suspends a source whose key is wrong, with a clear lastError that holds no secret', async () => {
    const container = await azureContainer(azurite, unique('key'));
    await uploadAll(container, '', new Map([['a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const wrongKey = randomBytes(64).toString('base64');
    const { sourceId } = await createSource(bucket, { ...withKey(container.containerName), accountKey: wrongKey }, { suspendAfterFailures: 1 });
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', objectsProcessed: 0 });
    const source = await waitFor('the source to be suspended', async () => {
      const s = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      return s.status === 'SOURCE_STATUS_SUSPENDED' && s;
    });
    expect(source.lastError).toMatch(/^Authorization(Failure|PermissionMismatch)|^AuthenticationFailed/);
    expect(source.lastError).toMatch(/authenticate/);
    for (const secret of [wrongKey, azurite.accountKey]) expect(JSON.stringify([source, job])).not.toContain(secret);
    // Scans of this kind fail for good on the first refusal: no retry hides it.
    expect(job.error).toBe(source.lastError);
  });

  it('is created from a YAML file, synced and shown by the CLI, which never prints the key', async () => {
    const container = await azureContainer(azurite, unique('cli'));
    await uploadAll(container, 'in/', new Map([['x/a.txt', Buffer.from('a')]]));
    const bucket = await ownBucket();
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-azure-cli-'));
    const file = join(dir, 'azure.yaml');
    await writeFile(
      file,
      [
        'name: from-yaml',
        'kind: azure',
        'azure:',
        `  account: ${azurite.account}`,
        `  endpoint: ${azurite.endpoint}`,
        `  container: ${container.containerName}`,
        '  prefix: in/',
        `  accountKey: ${azurite.accountKey}`,
        'syncIntervalSeconds: 3600',
      ].join('\n'),
    );
    const cli = await cliAgainst(ls, azurite.accountKey);
    const created = await cli('sources', 'create', bucket, '--file', file, '--json');
    expect(created.code, created.out).toBe(0);
    const sourceId = (JSON.parse(created.out) as { sourceId: string }).sourceId;
    const synced = await cli('sync', bucket, sourceId, '--quiet');
    expect(synced.code, synced.out).toBe(0);
    expect(synced.out).toMatch(/processed:\s+1\b/);
    const shown = await cli('sources', 'get', bucket, sourceId);
    expect(shown.out).toContain(`azure://${azurite.account}/${container.containerName}/in/ (${azurite.endpoint})`);
    expect(shown.out).toMatch(/credentials:\s+set/);
    expect(await lakeTree(bucket)).toEqual(new Map([['x/a.txt', sha256(Buffer.from('a'))]]));
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes a scan killed mid-way from its checkpoint, not from the first page', async () => {
    const container = await azureContainer(azurite, unique('crash'));
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 1500; i++) files.set(`p${String(i % 40).padStart(2, '0')}/blob-${String(i).padStart(5, '0')}.txt`, Buffer.from(`blob ${i}`));
    await uploadAll(container, '', files, 32);
    // Pages of 10 blobs: 150 listing requests.
    await worker?.kill('SIGTERM');
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '10' });
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, withKey(container.containerName), { batchSize: 200 });
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
