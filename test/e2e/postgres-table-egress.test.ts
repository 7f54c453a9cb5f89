/**
 * A postgres source's host is tenant input, held to the destination policy
 * like S3 and Azure endpoints: in production a loopback address is refused at
 * the edge, and a name that resolves to loopback is refused when the worker
 * connects, with the fixed message and no retries.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { expectRefusedWhenConnecting } from '../support/source-kind.js';
import { createTableDb, type TableDb } from '../support/table-db.js';

describe('postgres table sources under the egress policy in production', () => {
  let ls: TestLakesync;
  let db: TableDb;
  let bucket: string;

  beforeAll(async () => {
    [ls, db] = await Promise.all([
      startTestLakesync({
        lake: 'filesystem',
        env: {
          NODE_ENV: 'production',
          LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
          LAKESYNC_AUTH_SECRET: randomBytes(32).toString('base64url'),
        },
        activityOverrides: { retryBackoffMs: 20 },
      }),
      createTableDb('pgegress'),
    ]);
    await db.sql`create table docs (id int primary key, title text)`;
    await db.sql`insert into docs values (1, 'one')`;
    await db.grant('docs');
    bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await db?.drop();
  });

  const settings = (host: string) => ({ host, port: db.port, database: db.database, user: db.user, password: db.password, table: 'docs', ssl: 'disable' });

  it('refuses a loopback host with a 400 naming the field, and creates nothing', async () => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('pg'), kind: 'postgres', postgres: settings('127.0.0.1') });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'postgres.host', problem: 'is an address the egress policy does not allow' }]);
    expect(JSON.stringify(res.body)).not.toContain(db.password);
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('refuses a name that resolves to loopback when connecting, with the fixed message and no retries', async () => {
    // Created on a public name, then pointed at `localhost` behind the API's back (a row from before the policy was tightened).
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: unique('pg'), kind: 'postgres', postgres: settings('db.example.com') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sourceId = created.body.sourceId as string;
    await expectRefusedWhenConnecting(ls, bucket, sourceId, 'postgres');
  });
});
