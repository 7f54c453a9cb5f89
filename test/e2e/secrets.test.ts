/**
 * A sync orchestrator holds other people's storage credentials and shows its
 * workflow histories in a web UI. This test runs a real sync and then reads
 * every Temporal history of the source (`temporal workflow show`), every log
 * line of the API and the worker, every API response and the database row,
 * and finds the credentials (and a webhook's signing secret, and the API's
 * bearer token) nowhere but sealed at rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import postgres from 'postgres';
import { inject } from 'vitest';
import { authHeader, call, waitForJob } from '../support/http.js';
import { decodedPayloads } from '../support/payloads.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { temporalCli } from '../support/temporal-cli.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import type { AzuriteServer } from '../../infra/azurite-server.js';
import { azureContainer, startTestAzurite, uploadAll } from '../support/azurite.js';
import { gcsBucket, gcsPutAll, gcsStorage, serviceAccountKey } from '../support/gcs.js';
import { createTableDb, type TableDb } from '../support/table-db.js';
import type { SshdServer } from '../../infra/sshd-server.js';
import { startTestSshd, writeTree } from '../support/sshd.js';

describe('secrets stay secret', () => {
  let ls: TestLakesync;
  let worker: WorkerProcess;
  let apiLogs = '';
  const responses: string[] = [];
  const bucket = unique('kb');
  const { minio } = inject('infra');

  const record = async (method: string, path: string, body?: unknown) => {
    const res = await call(ls.url, method, path, body);
    responses.push(JSON.stringify(res.body ?? ''));
    return res;
  };

  /** Every Temporal history of the source as the CLI shows it, and its payloads decoded. */
  const historiesOf = async (sourceId: string) => {
    const executions = (await temporalCli('workflow', 'list', '--query', `LakesyncSourceId="${sourceId}"`, '--output', 'jsonl'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { execution: { workflowId: string; runId: string } });
    expect(executions.length).toBeGreaterThanOrEqual(3); // controller runs and both job runs
    let histories = '';
    const payloads: string[] = [];
    for (const { execution } of executions) {
      const shown = await temporalCli('workflow', 'show', '--workflow-id', execution.workflowId, '--run-id', execution.runId, '--output', 'json');
      histories += shown;
      payloads.push(...decodedPayloads(shown));
    }
    return { histories, payloads };
  };

  /**
   * Syncs a new source (its first run processing `processed` objects), then
   * runs it once more failing on credentials its server refuses (the PATCH
   * `wrong`), and reads it back on every route: a credential could now have
   * reached any place lakesync writes. Returns the source's id.
   */
  const syncThenRefused = async (o: {
    kind: string;
    part: object;
    processed: number;
    wrong: object;
    before?: (lake: string, sourceId: string) => Promise<void>;
  }) => {
    const lake = unique('kb');
    await record('POST', '/admin/buckets', { name: lake });
    const created = await record('POST', `/${lake}/sources`, { name: `guarded-${o.kind}`, kind: o.kind, [o.kind]: o.part, syncIntervalSeconds: 3600 });
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const run = await record('POST', `/${lake}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, lake, sourceId, run.body.jobId)).job).toMatchObject({ objectsProcessed: o.processed });
    await o.before?.(lake, sourceId);
    expect((await record('PATCH', `/${lake}/sources/${sourceId}`, { [o.kind]: o.wrong })).status).toBe(200);
    const failing = await record('POST', `/${lake}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, lake, sourceId, failing.body.jobId)).job.status).toBe('JOB_STATUS_FAILED');
    for (const path of [`/${lake}/sources/${sourceId}`, `/${lake}/sources/${sourceId}/sync`, `/${lake}/jobs/${failing.body.jobId}`]) await record('GET', path);
    return { sourceId, lake };
  };

  /** None of `secrets` is in the source's Temporal histories (payloads decoded), the logs, a response or a clear column. */
  const expectNowhere = async (sourceId: string, lake: string, secrets: string[], what: string) => {
    const { histories, payloads } = await historiesOf(sourceId);
    // A canary only a decoded payload holds: the search reads payloads decoded.
    expect(payloads.join('\n')).toContain(`"bucket":"${lake}"`);
    const sql = postgres(ls.databaseUrl, { max: 1 });
    const [row] = await sql`select sealed_credentials, connection::text as connection from sources where id = ${sourceId}`;
    await sql.end();
    expect(row!.sealed_credentials).toMatch(/^v1\./);
    const workerLogs = worker.output();
    expect(workerLogs).toContain(sourceId);
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(histories.includes(secret) || payloads.some((p) => p.includes(secret)), `a Temporal history holds ${what}`).toBe(false);
      expect(workerLogs.includes(secret), `the worker log holds ${what}`).toBe(false);
      expect(apiLogs.includes(secret), `the API log holds ${what}`).toBe(false);
      expect(
        responses.some((r) => r.includes(secret)),
        `an API response holds ${what}`,
      ).toBe(false);
      expect(row!.sealed_credentials.includes(secret) || row!.connection.includes(secret), `the database holds ${what} in clear`).toBe(false);
    }
  };

  const WEBHOOK_SECRET = 'webhook-signing-secret-7f3a9c';
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let azurite: AzuriteServer;
  let tableDb: TableDb;
  let sshd: SshdServer;

  beforeAll(async () => {
    receiver = await startWebhookReceiver(WEBHOOK_SECRET);
    const sink = new Writable({ write: (chunk, _enc, done) => ((apiLogs += chunk.toString()), done()) });
    ls = await startTestLakesync({ lake: 'filesystem', worker: 'separate', log: pino({ level: 'debug' }, sink) });
    worker = await startWorkerProcess({ ...ls.workerEnv, LOG_LEVEL: 'debug' });
    azurite = await startTestAzurite();
    tableDb = await createTableDb('secretpg');
    sshd = await startTestSshd();
  });
  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await ls?.stop();
    await receiver?.stop();
    await azurite?.stop();
    await tableDb?.drop();
    await sshd?.stop();
  });

  it('never puts source credentials in a payload, a log line or a response', async () => {
    const s3 = minioClient();
    const srcBucket = unique('secret-src');
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    for (let i = 0; i < 5; i++) await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `k${i}.txt`, Body: `v${i}` }));

    await record('POST', '/admin/buckets', { name: bucket });
    // A webhook pipeline's signing secret is guarded the same way.
    const hook = await record('POST', `/${bucket}/pipelines`, { name: 'hook', kind: 'webhook', webhook: { url: receiver.url, secret: WEBHOOK_SECRET } });
    await record('POST', `/${bucket}/rules`, { name: 'all', pipelineIds: [hook.body.pipelineId] });
    const created = await record('POST', `/${bucket}/sources`, {
      name: 'guarded',
      kind: 's3',
      s3: { endpoint: minio.endpoint, bucket: srcBucket, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      syncIntervalSeconds: 3600,
    });
    const sourceId = created.body.sourceId as string;
    const run = await record('POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const done = await waitForJob(ls.url, bucket, sourceId, run.body.jobId);
    expect(done.job).toMatchObject({ objectsProcessed: 5, objectsIndexed: 5 });
    expect(receiver.accepted().filter((d) => d.signatureValid)).toHaveLength(5);
    // A failing run too: wrong credentials, rotated in by PATCH.
    await record('PATCH', `/${bucket}/sources/${sourceId}`, { s3: { accessKeyId: 'rotated-key-id-0000', secretAccessKey: 'rotated-secret-value-0000' } });
    const failing = await record('POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const failed = await waitForJob(ls.url, bucket, sourceId, failing.body.jobId);
    expect(failed.job.status).toBe('JOB_STATUS_FAILED');
    for (const path of [
      `/${bucket}/sources/${sourceId}`,
      `/${bucket}/sources`,
      `/${bucket}/sources/${sourceId}/sync`,
      `/${bucket}/jobs`,
      `/${bucket}/jobs/${failing.body.jobId}`,
    ])
      await record('GET', path);

    const shown = await historiesOf(sourceId);
    const payloads = shown.payloads;
    let histories = shown.histories;
    expect(histories).toContain(sourceId);
    expect(histories).toContain('scanSource');
    // The CLI prints payloads as base64; the search must read them decoded. A canary only a payload holds (the job's
    // input, as the JSON converter wrote it) proves it does.
    const canary = `"bucket":"${bucket}"`;
    expect(histories).not.toContain(canary);
    expect(payloads.join('\n')).toContain(canary);
    histories += payloads.join('\n');

    const sql = postgres(ls.databaseUrl, { max: 1 });
    const [row] = await sql`select sealed_credentials, connection::text as connection from sources where id = ${sourceId}`;
    const [pipe] = await sql`select sealed_secret, config::text as config from pipelines where id = ${hook.body.pipelineId}`;
    await sql.end();
    expect(pipe!.sealed_secret).toMatch(/^v1\./);
    expect(row!.sealed_credentials).toMatch(/^v1\./);

    const workerLogs = worker.output();
    expect(workerLogs).toContain(sourceId);
    expect(apiLogs.length).toBeGreaterThan(0);
    // Request lines carry the Authorization header, redacted.
    expect(apiLogs).toContain('"authorization":"[redacted]"');
    const bearer = authHeader(ls.url).authorization!.replace(/^Bearer /, '');
    for (const secret of [minio.secretAccessKey, minio.accessKeyId, 'rotated-secret-value-0000', 'rotated-key-id-0000', WEBHOOK_SECRET, bearer]) {
      expect(histories.includes(secret), `Temporal history holds ${secret.slice(0, 4)}…`).toBe(false);
      expect(workerLogs.includes(secret), 'worker log holds a credential').toBe(false);
      expect(apiLogs.includes(secret), 'API log holds a credential').toBe(false);
      expect(
        responses.some((r) => r.includes(secret)),
        'an API response holds a credential',
      ).toBe(false);
      expect(row!.sealed_credentials.includes(secret) || row!.connection.includes(secret), 'the database holds a credential in clear').toBe(false);
      expect(pipe!.sealed_secret.includes(secret) || pipe!.config.includes(secret), 'the database holds a webhook secret in clear').toBe(false);
    }
  });

  it("never puts an azure source's key, SAS token or connection string in a payload, a log line or a response", async () => {
    const container = await azureContainer(azurite, unique('secret-az'));
    await uploadAll(container, '', new Map([0, 1, 2].map((i) => [`k${i}.txt`, Buffer.from(`v${i}`)])));
    const connectionString = `BlobEndpoint=${azurite.endpoint};AccountName=${azurite.account};AccountKey=${azurite.accountKey}`;
    // A failing run too: a SAS token Azure refuses, rotated in by PATCH.
    const wrongSas = 'sv=2025-01-05&sp=rl&se=2099-01-01T00%3A00%3A00Z&sr=c&sig=d3JvbmctYXp1cmUtc2FzLXNpZ25hdHVyZQ%3D%3D';
    const { sourceId, lake } = await syncThenRefused({
      kind: 'azure',
      part: { container: container.containerName, connectionString },
      processed: 3,
      wrong: { sasToken: wrongSas },
    });
    const sig = decodeURIComponent(wrongSas.split('sig=')[1]!);
    await expectNowhere(sourceId, lake, [azurite.accountKey, connectionString, wrongSas, sig], 'an azure credential');
  });

  it('never puts a gcs service-account key in a payload, a log line or a response', async () => {
    const storage = gcsStorage();
    const src = unique('gcs-secret');
    await gcsBucket(storage, src);
    await gcsPutAll(storage, src, '', new Map([0, 1, 2, 3, 4].map((i) => [`k${i}.txt`, Buffer.from(`v${i}`)])));
    const key = serviceAccountKey();
    const rotated = serviceAccountKey();
    // A failing run too: a rotated key, and a bucket the server does not have.
    const { sourceId, lake } = await syncThenRefused({
      kind: 'gcs',
      part: { endpoint: inject('infra').gcs.endpoint, bucket: src, serviceAccount: key },
      processed: 5,
      wrong: { bucket: unique('gone'), serviceAccount: rotated },
    });
    // Each line of the keys' PEM bodies: a leak escaped into JSON still holds them whole.
    const secrets = [key, rotated].flatMap((k) => k.private_key!.split('\n').filter((l) => l.length > 0 && !l.startsWith('-----')));
    expect(secrets.length).toBeGreaterThan(40);
    await expectNowhere(sourceId, lake, secrets, 'a gcs key');
  });

  it("never puts a postgres source's password in a payload, a log line or a response", async () => {
    await tableDb.sql`create table docs (id int primary key, title text)`;
    await tableDb.sql`insert into docs select i, 'title ' || i from generate_series(1, 3) i`;
    await tableDb.grant('docs');
    // A failing run too: a password the server refuses, rotated in by PATCH.
    const wrongPassword = 'wrong-postgres-password-5e1d';
    const { sourceId, lake } = await syncThenRefused({
      kind: 'postgres',
      part: {
        host: tableDb.host,
        port: tableDb.port,
        database: tableDb.database,
        user: tableDb.user,
        table: 'docs',
        ssl: 'disable',
        password: tableDb.password,
      },
      processed: 3,
      wrong: { password: wrongPassword },
    });
    await expectNowhere(sourceId, lake, [tableDb.password, wrongPassword], 'a postgres password');
  });

  it("never puts an sftp source's password or private key in a payload, a log line or a response", async () => {
    const dir = `${sshd.home}/secret-sftp`;
    await writeTree(dir, new Map([0, 1, 2].map((i) => [`k${i}.txt`, Buffer.from(`v${i}`)])));
    const wrongPassword = 'wrong-sftp-password-5d1e8a';
    const { sourceId, lake } = await syncThenRefused({
      kind: 'sftp',
      part: { host: sshd.host, port: sshd.port, username: sshd.username, path: dir, hostKey: sshd.hostKey, privateKey: sshd.privateKey },
      processed: 3,
      // The password works too, before a wrong one, rotated in by PATCH, fails a run.
      before: async (lake, sourceId) => {
        expect((await record('PATCH', `/${lake}/sources/${sourceId}`, { sftp: { password: sshd.password } })).status).toBe(200);
        await writeTree(dir, new Map([['k3.txt', Buffer.from('v3')]]));
        const byPassword = await record('POST', `/${lake}/sources/${sourceId}/discover`, {});
        expect((await waitForJob(ls.url, lake, sourceId, byPassword.body.jobId)).job).toMatchObject({ objectsProcessed: 1 });
      },
      wrong: { password: wrongPassword },
    });
    // The key's base64 body, line by line: no fragment of it may show anywhere.
    const keyLines = sshd.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    await expectNowhere(sourceId, lake, [sshd.password, wrongPassword, sshd.privateKey, ...keyLines], 'an sftp credential');
  });
});
