/**
 * Postgres goes away for 10 s under a running sync and comes back on the same
 * port with the same data. Meanwhile the API answers 503 with Retry-After,
 * naming Postgres, and /healthz says it is down; afterwards the API's and the
 * worker's pools reconnect by themselves, the activities that failed are
 * retried, and the sync ends exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { expectExactSync, lakeContents, OUTAGE_MS, ownPostgres, sleep, smallCorpus, startSteadySync, type OwnServer } from '../support/outage.js';

describe('a Postgres outage under a running sync', () => {
  let pg: OwnServer<{ adminUrl: string }>;
  let ls: TestLakesync;
  let dir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    pg = await ownPostgres();
    // 100 copies/s: the 2,000-object ingestion lasts ~20 s, so the outage falls in its middle.
    ls = await startTestLakesync({ lake: 'filesystem', infra: { postgresAdminUrl: pg.info.adminUrl }, env: { WORKER_MAX_OBJECTS_PER_SECOND: '100' } });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-outage-src-'));
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await pg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes a 2,000-object sync exactly, with 503s naming Postgres while it is down', async () => {
    const { files, expected, bytes } = smallCorpus(2000);
    await writeAll(dir, files);
    const { sourceId, jobId, job } = await startSteadySync(ls, bucket, {
      kind: 'filesystem',
      filesystem: { path: dir },
    });
    // Mid-ingestion: the listing is done, copies are going on.
    await waitFor(
      'the listing done and 400 objects copied',
      async () => ((j) => j.objectsListed === 2000 && j.objectsProcessed >= 400)(await job()),
      60_000,
      50,
    );

    await pg.down();
    const downSince = Date.now();
    const health = await waitFor('/healthz 503', async () => {
      const res = await fetch(`${ls.url}/healthz`);
      return res.status === 503 && ((await res.json()) as { postgres: string; temporal: string });
    });
    expect(health.temporal).toBe('ok');
    expect(health.postgres).not.toBe('ok');
    // Reads and writes alike are refused with a 503 the client can retry, naming what is down; none hangs.
    for (const [method, path, body] of [
      ['GET', `/${bucket}/jobs/${jobId}`, undefined],
      ['GET', `/${bucket}/sources`, undefined],
      ['POST', '/admin/buckets', JSON.stringify({ name: unique('kb') })],
    ] as const) {
      const res = await fetch(`${ls.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${await ls.token()}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/postgres is unavailable/i) });
    }
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince)));
    await pg.up();

    // The same API process answers again, without a restart.
    await waitFor('the API to answer again', async () => (await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`)).status === 200, 60_000);
    await expectExactSync(ls, { bucket, sourceId, jobId, count: 2000, bytes });
    expect(await lakeContents(ls, bucket, 'steady')).toEqual(expected);
    expect((await fetch(`${ls.url}/healthz`)).status).toBe(200);
  });
});
