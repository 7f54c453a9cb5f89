/**
 * An embedding pipeline's rate limit is one schedule for the whole deployment
 * (catalog/rate-turns.ts): turns taken at once from several connections, as
 * several workers and APIs would take them, are each a gap apart. Against the
 * suite's real Postgres.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import postgres from 'postgres';
import { runMigrations } from '../../db/migrate.js';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { nextRateTurn, takeRateTurn } from '../../catalog/rate-turns.js';
import { unique } from '../support/lakesync.js';

describe('pipeline rate turns', () => {
  let url: string;
  const clients: postgres.Sql[] = [];
  beforeAll(async () => {
    const infra = inject('infra');
    const name = unique('rate_turns').replace(/-/g, '_');
    await ensureDatabase(infra.postgresAdminUrl, name);
    url = infra.postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
    await runMigrations(url);
    const admin = postgres(url, { max: 1, onnotice: () => undefined });
    clients.push(admin);
    await admin`insert into buckets (id, name, org_id) values ('bkt_rate', 'rate', 'org')`;
    await admin`insert into pipelines (id, bucket_id, name, kind, config) values ('pl_rate', 'bkt_rate', 'p', 'embedding', '{}'::jsonb)`;
  });
  afterAll(async () => {
    for (const c of clients) await c.end();
  });

  it('hands out each turn once, a gap apart, however many processes take them at once', async () => {
    // Four "processes", each with its own connection, taking five turns each, all at once, at 600 a minute (100 ms apart).
    const procs = Array.from({ length: 4 }, () => postgres(url, { max: 1, onnotice: () => undefined }));
    clients.push(...procs);
    const gap = 100;
    const turns = await Promise.all(procs.flatMap((sql) => Array.from({ length: 5 }, async () => (await takeRateTurn(sql, 'pl_rate', gap)).turnAt.getTime())));
    const sorted = turns.sort((a, b) => a - b);
    // 20 turns on the server's clock: each exactly a gap after the one before (no two processes got the same turn).
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(gap - 1);
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThanOrEqual(19 * (gap - 1));
    // The next free turn is after the last one taken, and a turn reserved is not free again.
    expect(await nextRateTurn(procs[0]!, 'pl_rate')).toBeGreaterThan(0);
  });

  it("a pipeline's first turn is now, its second a gap later; deleting the pipeline removes its schedule", async () => {
    const sql = clients[0]!;
    await sql`insert into pipelines (id, bucket_id, name, kind, config) values ('pl_fresh', 'bkt_rate', 'fresh', 'embedding', '{}'::jsonb)`;
    expect(await nextRateTurn(sql, 'pl_fresh')).toBe(0);
    expect((await takeRateTurn(sql, 'pl_fresh', 60_000)).waitMs).toBe(0);
    // A minute apart: the second waits nearly all of it (less only the time between the two statements).
    const second = (await takeRateTurn(sql, 'pl_fresh', 60_000)).waitMs;
    expect(second).toBeGreaterThan(59_000);
    expect(second).toBeLessThanOrEqual(60_000);
    await sql`delete from pipelines where id = 'pl_fresh'`;
    expect(await sql`select 1 from pipeline_rate_turns where pipeline_id = 'pl_fresh'`).toHaveLength(0);
  });
});
