/**
 * The Temporal server goes away for 10 s under a running sync and comes back
 * on the same port with the same database file. Meanwhile the API answers 503
 * with Retry-After to what needs Temporal and /healthz names it; afterwards the
 * worker and the API reconnect by themselves and the sync ends exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { expectExactSync, lakeContents, OUTAGE_MS, ownTemporal, sleep, smallCorpus, startSteadySync, type OwnServer } from '../support/outage.js';

describe('a Temporal outage under a running sync', () => {
  let temporal: OwnServer<{ address: string }>;
  let ls: TestLakesync;
  let dir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    temporal = await ownTemporal();
    // 100 copies/s: the 2,000-object ingestion lasts ~20 s, so the outage falls in its middle.
    ls = await startTestLakesync({ lake: 'filesystem', infra: { temporalAddress: temporal.info.address }, env: { WORKER_MAX_OBJECTS_PER_SECOND: '100' } });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-outage-src-'));
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await temporal?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes a 2,000-object sync exactly, with 503s naming Temporal while it is down', async () => {
    const { files, expected, bytes } = smallCorpus(2000);
    await writeAll(dir, files);
    const { sourceId, jobId, job } = await startSteadySync(ls, bucket, {
      kind: 'filesystem',
      filesystem: { path: dir },
    });
    await waitFor('400 objects copied', async () => (await job()).objectsProcessed >= 400, 60_000, 50);

    await temporal.down();
    const downSince = Date.now();
    const health = await waitFor('/healthz 503', async () => {
      const res = await fetch(`${ls.url}/healthz`);
      return res.status === 503 && ((await res.json()) as { postgres: string; temporal: string });
    });
    expect(health.postgres).toBe('ok');
    expect(health.temporal).not.toBe('ok');
    // A request that needs Temporal is refused with a 503 the client can retry, naming what is down.
    const res = await fetch(`${ls.url}/${bucket}/sources/${sourceId}/discover`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await ls.token()}`, 'content-type': 'application/json' },
      body: '{}',
      // Bounded: the API gives up on Temporal after a few seconds rather than holding the request.
      signal: AbortSignal.timeout(30_000),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/temporal/i) });
    // What Postgres alone answers still works: the job's progress, read from its row.
    const during = await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`);
    expect(during.status).toBe(200);
    expect(during.body.status).toBe('JOB_STATUS_RUNNING');
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince)));
    await temporal.up();

    await expectExactSync(ls, { bucket, sourceId, jobId, count: 2000, bytes });
    expect(await lakeContents(ls, bucket, 'steady')).toEqual(expected);
    expect((await fetch(`${ls.url}/healthz`)).status).toBe(200);
  });
});
