import type postgres from 'postgres';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';
import { call, waitFor, waitForJob } from './http.js';
import type { TestLakesync } from './lakesync.js';
import type { seededRandom } from './seed.js';

/**
 * Syncs a directory source (batches of 25) on a worker process that is
 * SIGKILLed and replaced twice, at seeded counts of processed objects (the
 * failure message names the seed); answers the finished job and sync status.
 * `workers.current` is the live worker, for the caller's afterAll to stop.
 */
export async function syncThroughTwoKills(o: {
  ls: TestLakesync;
  sql: postgres.Sql;
  bucket: string;
  name: string;
  dir: string;
  random: ReturnType<typeof seededRandom>;
  workers: { current?: WorkerProcess };
  pollMs: number;
}) {
  const { ls, sql, bucket, random, workers } = o;
  workers.current = await startWorkerProcess(ls.workerEnv);
  const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
    name: o.name,
    kind: 'filesystem',
    filesystem: { path: o.dir },
    batchSize: 25,
    syncIntervalSeconds: 86400,
  });
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
  const jobId = started.body.jobId as string;
  const processed = async () => Number((await sql`select objects_processed from jobs where id = ${jobId}`)[0]?.objects_processed ?? 0);
  const killAt = async (n: number) => {
    await waitFor(`${n} processed (LAKESYNC_TEST_SEED=${random.seed})`, async () => (await processed()) >= n, 120_000, o.pollMs);
    await workers.current!.kill('SIGKILL');
    workers.current = await startWorkerProcess(ls.workerEnv);
  };
  await killAt(random.int(100, 400));
  await killAt(random.int(600, 900));
  return waitForJob(ls.url, bucket, src.body.sourceId, jobId, 240_000);
}
