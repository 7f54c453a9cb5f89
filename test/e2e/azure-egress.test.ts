/**
 * Azure endpoints are tenant input, held to the destination policy like S3
 * endpoints: in production a loopback endpoint is refused at the edge (given
 * directly or inside a connection string), a name that resolves to loopback
 * is refused when connecting, without retries: the SDK's requests go through
 * the policy's agents. Where loopback is allowed, a closed port and a server
 * that is not Azure read the same, and Azure's own refusals are shown.
 */

const production = (extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
  LAKESYNC_AUTH_SECRET: randomBytes(32).toString('base64url'),
  ...extra,
});
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { sources } from '../../db/schema.js';
import { EGRESS_DENIED_MESSAGE } from '../../domain/egress-policy.js';
import { UNREACHABLE_MESSAGE } from '../../activities/net/public-error.js';
import type { AzuriteServer } from '../../infra/azurite-server.js';
import { call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { activityReport, historyChain } from '../support/history.js';
import { azureContainer, startTestAzurite, uploadAll } from '../support/azurite.js';

describe('azure sources under the egress policy in production', () => {
  let ls: TestLakesync;
  let azurite: AzuriteServer;
  let bucket: string;

  beforeAll(async () => {
    [ls, azurite] = await Promise.all([
      startTestLakesync({
        lake: 'filesystem',
        env: production(),
        activityOverrides: { retryBackoffMs: 20 },
      }),
      startTestAzurite(),
    ]);
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await azurite?.stop();
  });

  const source = (azure: Record<string, unknown>) => ({ name: unique('az'), kind: 'azure', azure, syncIntervalSeconds: 3600 });
  const port = () => new URL(azurite.endpoint).port;

  it('refuses a loopback endpoint with a 400 naming the field it came in, and creates nothing', async () => {
    const direct = await call(
      ls.url,
      'POST',
      `/${bucket}/sources`,
      source({ account: azurite.account, endpoint: azurite.endpoint, container: 'box', accountKey: azurite.accountKey }),
    );
    expect(direct.status).toBe(400);
    expect(direct.body.details).toEqual([{ field: 'azure.endpoint', problem: 'is an address the egress policy does not allow' }]);
    const viaString = await call(
      ls.url,
      'POST',
      `/${bucket}/sources`,
      source({ container: 'box', connectionString: `BlobEndpoint=${azurite.endpoint};AccountKey=${azurite.accountKey}` }),
    );
    expect(viaString.status).toBe(400);
    expect(viaString.body.details).toEqual([{ field: 'azure.connectionString', problem: 'is an address the egress policy does not allow' }]);
    expect(JSON.stringify([direct.body, viaString.body])).not.toContain(azurite.accountKey);
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  /** A source created on Azure's public endpoint, then pointed elsewhere behind the API's back (a row from before the policy was tightened). */
  const storedAt = async (endpoint: string, container: string) => {
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, source({ account: azurite.account, container, accountKey: azurite.accountKey }));
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const [row] = await ls.runtime.db.select().from(sources).where(eq(sources.id, sourceId));
    const connection = { azure: { ...(row!.connection as { azure: Record<string, unknown> }).azure, endpoint } };
    await ls.runtime.db
      .update(sources)
      .set({ connection: connection as (typeof sources.$inferSelect)['connection'], updatedAt: new Date() })
      .where(eq(sources.id, sourceId));
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    return waitForJob(ls.url, bucket, sourceId, started.body.jobId);
  };

  it('refuses a name that resolves to loopback when connecting, with the fixed message and no retries', async () => {
    const container = await azureContainer(azurite, unique('src'));
    await uploadAll(container, '', new Map([['a.txt', Buffer.from('a')]]));
    const { job, sync } = await storedAt(`http://localhost:${port()}/${azurite.account}`, container.containerName);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: EGRESS_DENIED_MESSAGE, objectsListed: 0 });
    expect(sync.lastError).toBe(EGRESS_DENIED_MESSAGE);
    const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
    expect(report.failed).toBe(1);
    expect(report.retries).toEqual([]);
  });
});

describe('azure sources in production with LAKESYNC_EGRESS_ALLOW=127.0.0.1/32', () => {
  let ls: TestLakesync;
  let azurite: AzuriteServer;
  let web: Server;
  let bucket: string;

  beforeAll(async () => {
    [ls, azurite] = await Promise.all([
      startTestLakesync({ lake: 'filesystem', env: production({ LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32' }), activityOverrides: { retryBackoffMs: 20 } }),
      startTestAzurite(),
    ]);
    // A web server that is not Azure: its 404 must not tell a tenant that something listens there.
    web = createServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html', server: 'internal-admin/1.0' }).end('<html><body>Not here</body></html>');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await azurite?.stop();
    await new Promise<void>((resolve) => web?.close(() => resolve()));
  });

  const run = async (azure: Record<string, unknown>) => {
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('az'), kind: 'azure', azure, syncIntervalSeconds: 3600 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    return waitForJob(ls.url, bucket, created.body.sourceId, started.body.jobId);
  };

  it('syncs from Azurite on the allowed address, shows Azure refusals, and hides what a closed port or another server says', async () => {
    const container = await azureContainer(azurite, unique('src'));
    await uploadAll(container, '', new Map([['a.txt', Buffer.from('a')]]));
    const settings = { account: azurite.account, container: container.containerName };
    const ok = await run({ ...settings, endpoint: azurite.endpoint, accountKey: azurite.accountKey });
    expect(ok.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 1 });

    const refused = await run({ ...settings, endpoint: azurite.endpoint, accountKey: randomBytes(64).toString('base64') });
    expect(refused.job.status).toBe('JOB_STATUS_FAILED');
    expect(refused.job.error).toMatch(/^Authorization\w*: Server failed to authenticate the request/);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const webPort = (web.address() as { port: number }).port;
    const [nobody, other] = await Promise.all([
      run({ ...settings, endpoint: `http://127.0.0.1:${closedPort}/${azurite.account}`, accountKey: azurite.accountKey }),
      run({ ...settings, endpoint: `http://127.0.0.1:${webPort}/${azurite.account}`, accountKey: azurite.accountKey }),
    ]);
    for (const { job, sync } of [nobody, other]) {
      expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: UNREACHABLE_MESSAGE });
      expect(sync.lastError).toBe(UNREACHABLE_MESSAGE);
    }
  });
});
