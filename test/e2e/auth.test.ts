/**
 * Who may do what: bearer JWTs, scopes, organisations that cannot see each
 * other, filesystem roots, and hostile requests — each refused with the right
 * 4xx, naming the field, with nothing created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { SignJWT, UnsecuredJWT } from 'jose';
import postgres from 'postgres';
import { call } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

describe('auth, tenancy and hostile input', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;
  const bucketA = unique('org-a');
  let sourceA: string;
  let jobA: string;
  let tokenB: string;

  const counts = async () =>
    (await sql`select (select count(*) from buckets)::int b, (select count(*) from sources)::int s, (select count(*) from jobs)::int j`)[0];
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-auth-'));
    const tokenA = await ls.token({ org: 'org-a' });
    tokenB = await ls.token({ org: 'org-b' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucketA }, as(tokenA))).status).toBe(201);
    sourceA = (await call(ls.url, 'POST', `/${bucketA}/sources`, { name: 'a', kind: 'filesystem', filesystem: { path: dir } }, as(tokenA))).body.sourceId;
    jobA = (await call(ls.url, 'POST', `/${bucketA}/sources/${sourceA}/discover`, {}, as(tokenA))).body.jobId;
    expect(jobA).toMatch(/^job_/);
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('bearer tokens', () => {
    const refused = async (headers: Record<string, string>, problem: RegExp) => {
      const before = await counts();
      const res = await fetch(`${ls.url}/admin/buckets`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: unique('nope') }),
      });
      const body = (await res.json()) as { code: string; details: { field: string; problem: string }[] };
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(body.code).toBe('UNAUTHENTICATED');
      expect(body.details[0]!.field).toBe('authorization');
      expect(body.details[0]!.problem).toMatch(problem);
      expect(await counts()).toEqual(before);
    };

    it('refuses a request without a token', () => refused({}, /missing bearer token/));
    it('refuses another scheme', () => refused({ authorization: 'Basic dXNlcjpwYXNz' }, /Bearer <token>/));
    it('refuses a token signed with another key', async () => {
      const forged = await new SignJWT({ org: 'org-a', scope: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('x'.repeat(43)));
      await refused(as(forged), /signature is not valid/);
    });
    it('refuses an expired token', async () => refused(as(await ls.token({ expiresIn: '-1m' })), /expired/));
    it('refuses an unsigned (alg none) token', async () =>
      refused(as(new UnsecuredJWT({ org: 'org-a', scope: 'admin' }).setExpirationTime('1h').encode()), /not a valid JWT|not allowed/));
    it('refuses a token without an organisation', async () => {
      const noOrg = await new SignJWT({ scope: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(ls.authSecret));
      await refused(as(noOrg), /no org claim/);
    });
    it('refuses garbage', () => refused({ authorization: 'Bearer not.a.jwt' }, /not a valid JWT/));

    it('gates routes by scope', async () => {
      const reader = await ls.token({ org: 'org-a', scope: 'read' });
      const writer = await ls.token({ org: 'org-a', scope: 'read write' });
      const before = await counts();
      expect((await call(ls.url, 'GET', `/${bucketA}/sources`, undefined, as(reader))).status).toBe(200);
      const post = await call(ls.url, 'POST', `/${bucketA}/sources/${sourceA}/discover`, {}, as(reader));
      expect(post.status).toBe(403);
      expect(post.body).toMatchObject({ code: 'PERMISSION_DENIED', details: [{ field: 'authorization', problem: 'lacks the write scope' }] });
      expect((await call(ls.url, 'POST', '/admin/buckets', { name: unique('w') }, as(writer))).status).toBe(403);
      expect((await call(ls.url, 'GET', '/admin/buckets', undefined, as(writer))).status).toBe(403);
      expect(await counts()).toEqual(before);
    });

    it('leaves /healthz and /openapi.json public', async () => {
      expect((await fetch(`${ls.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${ls.url}/openapi.json`)).status).toBe(200);
    });
  });

  describe('organisations', () => {
    it("answers 404 for another organisation's bucket, source and job — never 403", async () => {
      const before = await counts();
      const b = as(tokenB);
      const probes: [string, string, unknown?][] = [
        ['GET', `/${bucketA}/sources`],
        ['GET', `/${bucketA}/sources/${sourceA}`],
        ['GET', `/${bucketA}/sources/${sourceA}/sync`],
        ['GET', `/${bucketA}/sources/${sourceA}/dead-letters`],
        ['POST', `/${bucketA}/sources/${sourceA}/discover`, {}],
        ['POST', `/${bucketA}/sources/${sourceA}/ingest`, {}],
        ['POST', `/${bucketA}/sources/${sourceA}/pause`, {}],
        ['PATCH', `/${bucketA}/sources/${sourceA}`, { syncIntervalSeconds: 60 }],
        ['DELETE', `/${bucketA}/sources/${sourceA}`],
        ['POST', `/${bucketA}/sources`, { name: 'steal', kind: 'filesystem', filesystem: { path: dir } }],
        ['GET', `/${bucketA}/jobs`],
        ['GET', `/${bucketA}/jobs/${jobA}`],
      ];
      for (const [method, path, body] of probes) {
        const res = await call(ls.url, method, path, body, b);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      const listed = await call(ls.url, 'GET', '/admin/buckets', undefined, b);
      expect(listed.body.buckets.map((x: { name: string }) => x.name)).not.toContain(bucketA);
      expect(await counts()).toEqual(before);
      // The owner still sees everything.
      expect((await call(ls.url, 'GET', `/${bucketA}/sources/${sourceA}`, undefined, as(await ls.token({ org: 'org-a' })))).status).toBe(200);
    });

    it('does not accept an organisation from a header', async () => {
      const res = await call(ls.url, 'GET', `/${bucketA}/sources`, undefined, { ...as(tokenB), 'x-organization-id': 'org-a' });
      expect(res.status).toBe(404);
    });
  });

  describe('hostile input', () => {
    const expectRefused = async (method: string, path: string, body: unknown, status: number, field: string, problem?: RegExp) => {
      const before = await counts();
      const res = await call(ls.url, method, path, body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      const detail = res.body.details.find((d: { field: string }) => d.field === field);
      expect(detail, JSON.stringify(res.body)).toBeTruthy();
      if (problem) expect(detail.problem).toMatch(problem);
      expect(await counts()).toEqual(before);
    };
    let bucket: string;
    beforeAll(async () => {
      bucket = unique('hostile');
      await call(ls.url, 'POST', '/admin/buckets', { name: bucket });
    });

    it('refuses a filesystem path outside the allowed roots', () =>
      expectRefused(
        'POST',
        `/${bucket}/sources`,
        { name: 'etc', kind: 'filesystem', filesystem: { path: '/etc' } },
        400,
        'filesystem.path',
        /outside the allowed roots/,
      ));
    it('refuses a symlink that escapes the roots', async () => {
      const link = join(dir, 'escape');
      await symlink('/etc', link).catch(() => undefined);
      await expectRefused(
        'POST',
        `/${bucket}/sources`,
        { name: 'link', kind: 'filesystem', filesystem: { path: link } },
        400,
        'filesystem.path',
        /outside the allowed roots.*\(through a link\)$/,
      );
    });
    it('refuses a path with NUL', () =>
      expectRefused('POST', `/${bucket}/sources`, { name: 'nul', kind: 'filesystem', filesystem: { path: '/tmp/a\u0000b' } }, 400, 'filesystem.path', /NUL/));
    it('refuses an oversized body', () =>
      expectRefused(
        'POST',
        `/${bucket}/sources`,
        { name: 'big', kind: 'filesystem', filesystem: { path: dir }, padding: 'x'.repeat(1_100_000) },
        413,
        'body',
        /larger than the limit/,
      ));
    it('refuses a target prefix with a .. segment or NUL', async () => {
      await expectRefused(
        'POST',
        `/${bucket}/sources`,
        { name: 'dots', kind: 'filesystem', filesystem: { path: dir }, targetPrefix: 'a/../../b' },
        400,
        'targetPrefix',
      );
      await expectRefused(
        'POST',
        `/${bucket}/sources`,
        { name: 'nulp', kind: 'filesystem', filesystem: { path: dir }, targetPrefix: 'a\u0000' },
        400,
        'targetPrefix',
      );
    });
    it('refuses a PATCH that moves a source outside the roots', async () => {
      const own = (await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'movable', kind: 'filesystem', filesystem: { path: dir } })).body.sourceId;
      await expectRefused('PATCH', `/${bucket}/sources/${own}`, { filesystem: { path: '/etc' } }, 400, 'filesystem.path', /outside the allowed roots/);
      expect((await call(ls.url, 'GET', `/${bucket}/sources/${own}`)).body.filesystem.path).toBe(dir);
    });
  });

  it('describes every route in /openapi.json with the schemas that validate requests', async () => {
    const doc = (await (await fetch(`${ls.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const [path, method] of [
      ['/admin/buckets', 'post'],
      ['/{bucket}/sources', 'post'],
      ['/{bucket}/sources/{sourceId}', 'patch'],
      ['/{bucket}/sources/{sourceId}/discover', 'post'],
      ['/{bucket}/sources/{sourceId}/ingest', 'post'],
      ['/{bucket}/sources/{sourceId}/sync', 'get'],
      ['/{bucket}/sources/{sourceId}/dead-letters', 'get'],
      ['/{bucket}/jobs', 'get'],
      ['/{bucket}/jobs/{jobId}', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeTruthy();
    }
    const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(
      doc.paths['/{bucket}/sources']!.post.requestBody.content['application/json'].schema,
    );
    expect(validate({ name: 'ok', kind: 'filesystem', filesystem: { path: '/tmp/x' } })).toBe(true);
    expect(validate({ name: 'bad', kind: 'filesystem', filesystem: { path: '/tmp/x' }, batchSize: 0 })).toBe(false);
    expect(validate({ name: 'bad', kind: 'ftp' })).toBe(false);
    expect(doc.paths['/{bucket}/jobs']!.get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['page_size', 'page_token', 'source_id', 'status']),
    );
  });
});
