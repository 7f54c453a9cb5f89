/**
 * The kill -9 test every listed source kind runs: a discovery of `objects`
 * keys listed `pageSize` at a time, its worker SIGKILLed after a seeded number
 * of pages and another started. The job must end with exact counters having
 * listed each page about once: resumed from its checkpoint, not from page one.
 */
import type postgres from 'postgres';
import { expect } from 'vitest';
import { call, waitFor, waitForJob } from './http.js';
import type { SeededRandom } from './seed.js';

export interface ScanCrash {
  url: string;
  bucket: string;
  sourceId: string;
  sql: postgres.Sql;
  random: SeededRandom;
  objects: number;
  pageSize: number;
  /** SIGKILLs the worker that runs the scan. */
  killWorker(): Promise<void>;
  /** Starts another worker with the same page size. */
  startWorker(): Promise<void>;
}

export async function expectScanResumesAfterKill(o: ScanCrash): Promise<Record<string, unknown>> {
  const pages = Math.ceil(o.objects / o.pageSize);
  const started = await call(o.url, 'POST', `/${o.bucket}/sources/${o.sourceId}/discover`, {});
  expect(started.status).toBe(200);
  const jobId = started.body.jobId as string;
  const listed = async () => Number((await o.sql`select pages_listed from jobs where id = ${jobId}`)[0]?.pages_listed ?? 0);
  const killAt = o.random.int(Math.ceil(pages / 8), Math.ceil(pages * 0.4));
  await waitFor(`${killAt} pages listed (LAKESYNC_TEST_SEED=${o.random.seed})`, async () => (await listed()) >= killAt, 120_000, 20);
  await o.killWorker();
  expect(await listed()).toBeLessThan(pages);
  await o.startWorker();
  const { job } = await waitForJob(o.url, o.bucket, o.sourceId, jobId, 240_000);
  expect(job).toMatchObject({
    status: 'JOB_STATUS_SUCCEEDED',
    objectsListed: o.objects,
    objectsDiscovered: o.objects,
    objectsNew: o.objects,
    objectsProcessed: o.objects,
    objectsFailed: 0,
  });
  // From page one again it would have listed the pages before the kill twice; resumed, at most the pages in flight repeat.
  expect(job.pagesListed).toBeGreaterThanOrEqual(pages);
  expect(job.pagesListed).toBeLessThanOrEqual(pages + 2);
  return job;
}
