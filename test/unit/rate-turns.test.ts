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
    const turns = await Promise.all(
      procs.flatMap((sql) =>
        Array.from({ length: 5 }, async () => {
          const asked = Date.now();
          return asked + (await takeRateTurn(sql, 'pl_rate', gap));
        }),
      ),
    );
    const sorted = turns.sort((a, b) => a - b);
    // 20 turns: the schedule spans 19 gaps, each at least one gap (a few ms of clock between client and server aside).
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(gap - 15);
    expect(sorted.at(-1)! - sorted[0]!).toBeGreaterThanOrEqual(19 * gap - 50);
    // The next free turn is after the last one taken, and a turn reserved is not free again.
    expect(await nextRateTurn(procs[0]!, 'pl_rate')).toBeGreaterThan(0);
  });

  it('a pipeline never limited has its turn now; deleting the pipeline removes its schedule', async () => {
    const sql = clients[0]!;
    expect(await nextRateTurn(sql, 'pl_other')).toBe(0);
    await sql`delete from pipelines where id = 'pl_rate'`;
    expect(await sql`select 1 from pipeline_rate_turns where pipeline_id = 'pl_rate'`).toHaveLength(0);
  });
});
