/**
 * Service-account keys through the real API: created with a secret shown
 * once, listed and fetched without it, sealed at rest, confined to their
 * organisation, refused on bad input without a trace, and dead for
 * `findActiveKey` from the moment they are revoked.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findActiveKey } from '../../api/service-keys.js';
import { SecretBox } from '../../domain/secrets.js';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe('service-account keys', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let secrets: SecretBox;
  let apiLogs = '';
  /** Every response body of the file but the creations', to check none shows a secret. */
  const otherAnswers: string[] = [];
  const bucket = unique('kb-keys');

  const send = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const res = await call(ls.url, method, path, body, headers);
    otherAnswers.push(JSON.stringify(res.body ?? ''));
    return res;
  };
  const create = (body: unknown, headers?: Record<string, string>) => call(ls.url, 'POST', '/admin/keys', body, headers);
  const rows = async () => (await sql`select count(*)::int n from service_account_keys`)[0]!.n as number;
  const lookup = (id: string) => findActiveKey({ db: ls.runtime.db, secrets }, id);

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => ((apiLogs += chunk.toString()), done()) });
    ls = await startTestLakesync({ lake: 'filesystem', log: pino({ level: 'debug' }, sink) });
    sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    secrets = new SecretBox(ls.workerEnv.LAKESYNC_SECRET_KEY!);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
  });

  it('creates a key whose secret is shown once, sealed at rest, and never listed, fetched or logged', async () => {
    const created = await create({ scopes: ['read', 'write'], buckets: [bucket], description: 'nightly export' });
    expect(created.status).toBe(201);
    const key = created.body;
    expect(key).toMatchObject({ org: 'test-org', scopes: ['read', 'write'], buckets: [bucket], description: 'nightly export' });
    expect(key.accessKeyId).toMatch(/^LKSA[A-Z0-9]{16}$/);
    expect(key.secretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(Date.parse(key.createdAt)).not.toBeNaN();

    const all = await create({ scopes: ['admin'] });
    expect(all.status).toBe(201);
    expect(all.body.buckets).toBeNull();
    expect(all.body.accessKeyId).not.toBe(key.accessKeyId);
    expect(all.body.secretAccessKey).not.toBe(key.secretAccessKey);

    const listed = await send('GET', '/admin/keys');
    expect(listed.status).toBe(200);
    const { secretAccessKey: _shownOnce, ...withoutSecret } = key;
    expect(listed.body.keys).toContainEqual(withoutSecret);
    expect(listed.body.totalCount).toBe(2);
    const got = await send('GET', `/admin/keys/${key.accessKeyId}`);
    expect(got).toEqual({ status: 200, body: withoutSecret });
    for (const answer of otherAnswers) {
      expect(answer.includes(key.secretAccessKey)).toBe(false);
      expect(answer).not.toContain('secret');
    }

    // Sealed like source credentials: nothing in the row holds the plaintext, yet the verifier gets it back.
    const [row] = await sql`select * from service_account_keys where id = ${key.accessKeyId}`;
    expect(row!.sealed_secret).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain(key.secretAccessKey);
    expect(await lookup(key.accessKeyId)).toEqual({
      accessKeyId: key.accessKeyId,
      secret: key.secretAccessKey,
      org: 'test-org',
      scopes: ['read', 'write'],
      buckets: [bucket],
    });
    expect(await lookup(all.body.accessKeyId)).toMatchObject({ secret: all.body.secretAccessKey, buckets: null, scopes: ['admin'] });

    // Request lines are logged, at debug level even; the answer carrying the secret is not.
    expect(apiLogs).toContain('/admin/keys');
    expect(apiLogs.includes(key.secretAccessKey)).toBe(false);
    expect(apiLogs.includes(all.body.secretAccessKey)).toBe(false);
  });

  it('pages the list like the other admin lists', async () => {
    for (let i = 0; i < 3; i++) expect((await create({ scopes: ['read'] })).status).toBe(201);
    const first = await send('GET', '/admin/keys?page_size=2');
    expect(first.body.keys).toHaveLength(2);
    expect(first.body.nextPageToken).not.toBe('');
    const seen = [...first.body.keys];
    let token = first.body.nextPageToken as string;
    while (token) {
      const next = await send('GET', `/admin/keys?page_size=2&page_token=${encodeURIComponent(token)}`);
      expect(next.status).toBe(200);
      seen.push(...next.body.keys);
      token = next.body.nextPageToken;
    }
    expect(seen).toHaveLength(first.body.totalCount);
    expect(new Set(seen.map((k) => k.accessKeyId)).size).toBe(seen.length);
  });

  it('revokes a key at once and for good', async () => {
    const key = (await create({ scopes: ['read'] })).body;
    expect(await lookup(key.accessKeyId)).not.toBeNull();
    expect((await send('DELETE', `/admin/keys/${key.accessKeyId}`)).status).toBe(204);
    expect(await lookup(key.accessKeyId)).toBeNull();
    expect((await send('GET', `/admin/keys/${key.accessKeyId}`)).status).toBe(404);
    expect((await send('GET', '/admin/keys?page_size=1000')).body.keys.map((k: { accessKeyId: string }) => k.accessKeyId)).not.toContain(key.accessKeyId);
    // A second revocation finds nothing to revoke; the row stays, without its secret, so the id is never issued again.
    expect((await send('DELETE', `/admin/keys/${key.accessKeyId}`)).status).toBe(404);
    const [row] = await sql`select sealed_secret, revoked_at from service_account_keys where id = ${key.accessKeyId}`;
    expect(row).toMatchObject({ sealed_secret: null });
    expect(row!.revoked_at).toBeInstanceOf(Date);
    expect(await lookup(key.accessKeyId)).toBeNull();
  });

  it("answers another organisation's key exactly as a missing one, and lets it change nothing", async () => {
    const key = (await create({ scopes: ['read'] })).body;
    const other = { authorization: `Bearer ${await ls.token({ org: 'other-org' })}` };
    const missing = 'LKSA0000000000000000';
    for (const method of ['GET', 'DELETE']) {
      const theirs = await send(method, `/admin/keys/${key.accessKeyId}`, undefined, other);
      const none = await send(method, `/admin/keys/${missing}`, undefined, other);
      expect(theirs.status).toBe(404);
      expect(none.status).toBe(404);
      expect(theirs.body.message.replace(key.accessKeyId, 'ID')).toBe(none.body.message.replace(missing, 'ID'));
    }
    const listed = await send('GET', '/admin/keys', undefined, other);
    expect(listed.body).toMatchObject({ keys: [], totalCount: 0 });
    expect(await lookup(key.accessKeyId)).toMatchObject({ org: 'test-org', secret: key.secretAccessKey });
    // Nor can it limit a key of its own to the victim's bucket: that name is no bucket of its organisation.
    const stolen = await create({ scopes: ['read'], buckets: [bucket] }, other);
    const nowhere = await create({ scopes: ['read'], buckets: ['no-such-bucket'] }, other);
    expect(stolen.status).toBe(400);
    expect(stolen.body).toEqual(nowhere.body);
    expect(stolen.body.details).toEqual([{ field: 'buckets.0', problem: 'names no bucket of this organisation' }]);
  });

  it('refuses a bad body with a 400 naming the field, and creates nothing', async () => {
    const before = await rows();
    const cases: [unknown, string][] = [
      [{}, 'scopes'],
      [{ scopes: [] }, 'scopes'],
      [{ scopes: ['read', 'root'] }, 'scopes.1'],
      [{ scopes: ['read', 'read'] }, 'scopes'],
      [{ scopes: 'read' }, 'scopes'],
      [{ scopes: ['read'], buckets: [] }, 'buckets'],
      [{ scopes: ['read'], buckets: ['Not_A_Bucket'] }, 'buckets.0'],
      [{ scopes: ['read'], buckets: [bucket, bucket] }, 'buckets'],
      [{ scopes: ['read', 'admin'], buckets: [bucket] }, 'buckets'],
      [{ scopes: ['read'], description: 'tab\tok but bell \u0007 not' }, 'description'],
      [{ scopes: ['read'], description: 'x'.repeat(1001) }, 'description'],
      [{ scopes: ['read'], secretAccessKey: 'my-own-secret-0000000000000000000000000' }, 'secretAccessKey'],
      [{ scopes: ['read'], org: 'other-org' }, 'org'],
    ];
    for (const [body, field] of cases) {
      const res = await send('POST', '/admin/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.body.details.map((d: { field: string }) => d.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(await rows()).toBe(before);
  });

  it('needs the admin scope for every key route', async () => {
    const key = (await create({ scopes: ['read'] })).body;
    const before = await rows();
    for (const scope of ['read', 'read write']) {
      const token = { authorization: `Bearer ${await ls.token({ scope })}` };
      for (const [method, path, body] of [
        ['POST', '/admin/keys', { scopes: ['admin'] }],
        ['GET', '/admin/keys', undefined],
        ['GET', `/admin/keys/${key.accessKeyId}`, undefined],
        ['DELETE', `/admin/keys/${key.accessKeyId}`, undefined],
      ] as const) {
        const res = await send(method, path, body, token);
        expect(res.status, `${method} ${path} with ${scope}`).toBe(403);
        expect(res.body.details).toEqual([{ field: 'authorization', problem: 'lacks the admin scope' }]);
      }
    }
    expect(await rows()).toBe(before);
    expect(await lookup(key.accessKeyId)).not.toBeNull();
  });

  it('finds no key for an id that is malformed, unknown or differently cased', async () => {
    const key = (await create({ scopes: ['read'] })).body;
    expect(await lookup(key.accessKeyId.toLowerCase())).toBeNull();
    expect(await lookup('LKSA0000000000000000')).toBeNull();
    expect(await lookup('AKIA\u0000')).toBeNull();
    expect(await lookup('')).toBeNull();
  });
});
