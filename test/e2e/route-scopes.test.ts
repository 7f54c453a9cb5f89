/**
 * The scope each route documents in /openapi.json is the scope the API
 * enforces: a token without it is refused with 403 naming it, and a token
 * holding just it gets past authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { call } from '../support/http.js';
import { startTestLakesync, type TestLakesync } from '../support/lakesync.js';

type Scope = 'read' | 'write' | 'admin';
/** A token that holds every scope but the one a route needs (admin holds them all, so a read or write route's lacks it too). */
const LACKING: Record<Scope, string> = { read: 'write', write: 'read', admin: 'read write' };

describe('route scopes', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let operations: { method: string; path: string; scope: Scope }[];

  const counts = async () =>
    (await sql`select (select count(*) from buckets)::int b, (select count(*) from sources)::int s, (select count(*) from pipelines)::int p`)[0];

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    const doc = (await (await fetch(`${ls.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { 'x-required-scope'?: Scope }>> };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) => (op['x-required-scope'] ? [{ method: method.toUpperCase(), path, scope: op['x-required-scope'] }] : [])),
    );
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
  });

  // Every resource named in a path does not exist: a request that gets past authentication ends in a 400 or 404, touching nothing.
  const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, n: string) => `${n.toLowerCase()}-none`);
  const send = (method: string, path: string, token: string) =>
    call(ls.url, method, fill(path), method === 'GET' || method === 'HEAD' ? undefined : {}, { authorization: `Bearer ${token}` });

  /** The fields an error names: in lakesync's envelope, or in Mixpeek's on its routes. */
  const detailsOf = (body: { details?: unknown; error?: { details: { fields: unknown } } }) => body.error?.details.fields ?? body.details;

  it('documents a scope on every route but the public ones', () => {
    expect(operations.length).toBeGreaterThan(40);
    expect(new Set(operations.map((o) => o.scope))).toEqual(new Set(['read', 'write', 'admin']));
  });

  it('refuses every route to a token without its documented scope, naming the scope', async () => {
    const before = await counts();
    for (const op of operations) {
      const res = await send(op.method, op.path, await ls.token({ scope: LACKING[op.scope] }));
      expect(res.status, `${op.method} ${op.path} without ${op.scope}`).toBe(403);
      if (op.method !== 'HEAD')
        expect(detailsOf(res.body), `${op.method} ${op.path}`).toEqual([{ field: 'authorization', problem: `lacks the ${op.scope} scope` }]);
    }
    expect(await counts()).toEqual(before);
  });

  it('lets every route past authentication with a token holding just its documented scope', async () => {
    const before = await counts();
    for (const op of operations) {
      const res = await send(op.method, op.path, await ls.token({ scope: op.scope }));
      expect([401, 403], `${op.method} ${op.path} with ${op.scope}: ${JSON.stringify(res.body)}`).not.toContain(res.status);
    }
    expect(await counts()).toEqual(before);
  });
});
