/**
 * SFTP hosts are tenant input, held to the destination policy like S3 and
 * Azure endpoints: in production a loopback host is refused at the edge, a
 * name that resolves to loopback is refused when connecting, without retries.
 * Where loopback is allowed, a closed port and a server that does not speak
 * SSH read the same, and the SSH server's own refusals are shown.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNREACHABLE_MESSAGE } from '../../activities/net/public-error.js';
import type { SshdServer } from '../../infra/sshd-server.js';
import { call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { expectRefusedWhenConnecting } from '../support/source-kind.js';
import { startTestSshd, writeTree } from '../support/sshd.js';

const production = (extra: Record<string, string> = {}) => ({
  NODE_ENV: 'production',
  LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
  LAKESYNC_AUTH_SECRET: randomBytes(32).toString('base64url'),
  ...extra,
});

describe('sftp sources under the egress policy in production', () => {
  let ls: TestLakesync;
  let sshd: SshdServer;
  let bucket: string;

  beforeAll(async () => {
    [ls, sshd] = await Promise.all([startTestLakesync({ lake: 'filesystem', env: production(), activityOverrides: { retryBackoffMs: 20 } }), startTestSshd()]);
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await sshd?.stop();
  });

  const settings = (host: string) => ({ host, port: sshd.port, username: sshd.username, path: sshd.home, hostKey: sshd.hostKey, password: sshd.password });
  const source = (sftp: Record<string, unknown>) => ({ name: unique('sf'), kind: 'sftp', sftp, syncIntervalSeconds: 3600 });

  it('refuses a loopback host with a 400 naming the field, and creates nothing', async () => {
    for (const host of ['127.0.0.1', 'localhost', '::1']) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, source(settings(host)));
      expect(res.status, host).toBe(400);
      expect(res.body.details).toEqual([{ field: 'sftp.host', problem: expect.stringMatching(/the egress policy does not allow$/) }]);
      expect(JSON.stringify(res.body)).not.toContain(sshd.password);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('refuses a host that resolves to loopback when connecting, with the fixed message and no retries', async () => {
    await writeTree(sshd.home, new Map([['a.txt', Buffer.from('a')]]));
    // Created on a public name, then pointed at loopback behind the API's back (a row from before the policy was tightened).
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, source(settings('sftp.example.com')));
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    await expectRefusedWhenConnecting(ls, bucket, sourceId, 'sftp');
  });
});

describe('sftp sources in production with LAKESYNC_EGRESS_ALLOW=127.0.0.1/32', () => {
  let ls: TestLakesync;
  let sshd: SshdServer;
  let web: Server;
  let bucket: string;

  beforeAll(async () => {
    [ls, sshd] = await Promise.all([
      startTestLakesync({ lake: 'filesystem', env: production({ LAKESYNC_EGRESS_ALLOW: '127.0.0.1/32' }), activityOverrides: { retryBackoffMs: 20 } }),
      startTestSshd(),
    ]);
    // A web server, not an SSH server: what it says must not tell a tenant that something listens there.
    web = createServer((req, res) => {
      req.resume();
      res.writeHead(404, { server: 'internal-admin/1.0' }).end('Not here');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await sshd?.stop();
    await new Promise<void>((resolve) => web?.close(() => resolve()));
  });

  const run = async (over: Record<string, unknown>) => {
    const sftp = { host: '127.0.0.1', port: sshd.port, username: sshd.username, path: sshd.home, hostKey: sshd.hostKey, password: sshd.password, ...over };
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('sf'), kind: 'sftp', sftp, syncIntervalSeconds: 3600 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${created.body.sourceId}/discover`, {});
    return waitForJob(ls.url, bucket, created.body.sourceId, started.body.jobId);
  };

  it("syncs from sshd on the allowed address, shows the server's refusal, and hides what a closed port or a web server says", async () => {
    await writeTree(sshd.home, new Map([['a.txt', Buffer.from('a')]]));
    expect((await run({})).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 1 });
    const refused = await run({ password: 'not-it' });
    expect(refused.job).toMatchObject({
      status: 'JOB_STATUS_FAILED',
      error: `AuthenticationFailed: the server refused the credentials of user ${sshd.username}`,
    });

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const [nobody, other] = await Promise.all([run({ port: closedPort }), run({ port: (web.address() as { port: number }).port })]);
    for (const { job, sync } of [nobody, other]) {
      expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: UNREACHABLE_MESSAGE });
      expect(sync.lastError).toBe(UNREACHABLE_MESSAGE);
    }
  });
});
