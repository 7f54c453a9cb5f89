/**
 * The Cloud Storage emulator behind a gcs source goes away for 10 s under a
 * running sync and comes back on the same port with the same objects. Copies
 * that meet it down are retried with backoff without charging any object an
 * attempt (a refused connection is retryable, never a reason to give up), and
 * the sync ends byte for byte with every counter exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { gcsBucket, gcsPutAll, gcsStorage } from '../support/gcs.js';
import { expectExactSync, lakeContents, OUTAGE_MS, ownFakeGcs, sleep, smallCorpus, startSteadySync, type OwnServer } from '../support/outage.js';

describe('a Cloud Storage outage under a running sync', () => {
  let gcs: OwnServer<{ endpoint: string }>;
  let ls: TestLakesync;
  const bucket = unique('kb');

  beforeAll(async () => {
    gcs = await ownFakeGcs();
    // 100 copies/s: the 1,000-object ingestion lasts ~10 s, so the outage falls in its middle.
    ls = await startTestLakesync({ lake: 'filesystem', env: { WORKER_MAX_OBJECTS_PER_SECOND: '100' } });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    await gcs?.close();
  });

  it('finishes a 1,000-object sync exactly across the outage, charging no object an attempt', async () => {
    const { files, expected, bytes } = smallCorpus(1000);
    const storage = gcsStorage(gcs.info.endpoint);
    const src = unique('src');
    await gcsBucket(storage, src);
    await gcsPutAll(storage, src, '', files);
    const { sourceId, jobId, job } = await startSteadySync(ls, bucket, { kind: 'gcs', gcs: { endpoint: gcs.info.endpoint, bucket: src } });
    await waitFor(
      'the listing done and 200 objects copied',
      async () => ((j) => j.objectsListed === 1000 && j.objectsProcessed >= 200)(await job()),
      60_000,
      50,
    );

    await gcs.down();
    // Copies that ended just before it went down reach the counters within a recorder flush (100 ms, longer
    // under load): the snapshot waits them out, so what it is compared with is progress during the outage.
    await sleep(1000);
    const atDown = await job();
    await sleep(OUTAGE_MS);
    const beforeUp = await job();
    expect(beforeUp).toMatchObject({ status: 'JOB_STATUS_RUNNING', objectsFailed: 0 });
    expect(beforeUp.objectsProcessed).toBeLessThan(1000);
    // Only copies already streaming when it went down may have finished.
    expect(beforeUp.objectsProcessed - atDown.objectsProcessed).toBeLessThanOrEqual(40);
    await gcs.up();

    await expectExactSync(ls, { bucket, sourceId, jobId, count: 1000, bytes });
    expect(await lakeContents(ls, bucket, 'steady')).toEqual(expected);
  });
});
