/**
 * Tenant fairness (README "Tenant fairness"): org A's 50,000-object sync
 * must not starve org B's 20-object one. B's sync is timed alone on this
 * machine first, then while A's sync copies; the two measurements are of the
 * same machine in the same run, so the bound is a ratio, not a number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { controllerWorkflowId, syncRunWorkflowId } from '../../workflows/shared.js';

const BIG = 50_000;
const SMALL = 20;
const DIRS = 100;
/** B's syncs timed alone, and again beside A: the medians are compared. */
const SAMPLES = 5;

/** `count` files of a few bytes each, spread over directories so no directory is huge. */
async function smallFiles(root: string, count: number, dirs: number): Promise<void> {
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `d${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let i = d; i < count; i += dirs) writes.push(writeFile(join(dir, `f${String(i).padStart(5, '0')}.txt`), `object ${i}\n`));
    await Promise.all(writes);
  }
}

/** Files under `root`, counted without reading them. */
async function countFiles(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

describe('tenant fairness', () => {
  let ls: TestLakesync;
  const scratch: string[] = [];
  let tokenA: string;
  let tokenB: string;

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    tokenA = await ls.token({ org: 'org-a' });
    tokenB = await ls.token({ org: 'org-b' });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of scratch) await rm(d, { recursive: true, force: true });
  });

  /** A bucket of `token`'s organisation with one directory source of `count` files. */
  async function orgSource(token: string, count: number, dirs: number) {
    const auth = { authorization: `Bearer ${token}` };
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-fair-'));
    scratch.push(dir);
    await smallFiles(dir, count, dirs);
    const bucket = unique('fair');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket }, auth)).status).toBe(201);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'files', kind: 'filesystem', filesystem: { path: dir } }, auth);
    expect(created.status).toBe(201);
    const sourceId = created.body.sourceId as string;
    const lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    const discover = async (body: { fullSync?: boolean } = {}) => {
      const r = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, body, auth);
      expect(r.status).toBe(200);
      return r.body.jobId as string;
    };
    const finish = async (jobId: string) => {
      // waitForJob reads with the suite's default token: this bucket is another organisation's.
      const r = await waitFor(
        `job ${jobId}`,
        async () => {
          const j = await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`, undefined, auth);
          return j.body.finishedAt ? j.body : null;
        },
        600_000,
        50,
      );
      return r as { status: string; objectsDiscovered: number; objectsProcessed: number; objectsFailed: number };
    };
    /**
     * The controller is back waiting for its schedule: after a job it records
     * it and continues as new, and a request that lands in that handover waits
     * for it, which would time the controller, not the sync.
     */
    const controllerIdle = () =>
      waitFor('controller waiting for its schedule', async () => {
        const { events } = await ls.runtime.temporal.workflow.getHandle(controllerWorkflowId(sourceId)).fetchHistory();
        const seen = events ?? [];
        return seen.some((e) => e.timerStartedEventAttributes) && !seen.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      });
    /** Wall time of one full-sync job of this source, from the request to its job's end. */
    const timedFullSync = async () => {
      await controllerIdle();
      const t0 = performance.now();
      const jobId = await discover({ fullSync: true });
      const job = await finish(jobId);
      return { ms: performance.now() - t0, job, jobId };
    };
    return { bucket, sourceId, lakeRoot, discover, finish, timedFullSync };
  }

  it("org B's 20-object sync finishes within 2x its time alone while org A's 50,000-object sync runs", { timeout: 900_000 }, async () => {
    const b = await orgSource(tokenB, SMALL, 2);
    const a = await orgSource(tokenA, BIG, DIRS);

    // B alone: a first sync warms every path, then B's time alone is the median of a few full syncs.
    expect(await b.finish(await b.discover())).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: SMALL });
    const timeB = async () => {
      const samples: { ms: number; jobId: string }[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const r = await b.timedFullSync();
        expect(r.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: SMALL, objectsFailed: 0 });
        samples.push(r);
      }
      const ms = samples.map((s) => s.ms).sort((x, y) => x - y);
      return { ms, median: ms[(SAMPLES - 1) / 2]!, jobIds: samples.map((s) => s.jobId) };
    };
    const alone = await timeB();

    // A's sync starts; B's start once A is copying, so the two really compete for the worker.
    const aJob = await a.discover();
    await waitFor('org A copying', async () => (await countFiles(a.lakeRoot)) >= 500, 300_000, 50);
    const together = await timeB();
    const aCopiedWhenBEnded = await countFiles(a.lakeRoot);
    const aJobAtBEnd = await call(ls.url, 'GET', `/${a.bucket}/jobs/${aJob}`, undefined, { authorization: `Bearer ${tokenA}` });
    const show = (t: { ms: number[]; median: number }) => `${t.ms.map((m) => m.toFixed(0)).join('/')} ms (median ${t.median.toFixed(0)})`;
    process.stderr.write(
      `[fairness] B alone ${show(alone)}, B beside A ${show(together)}: ${(together.median / alone.median).toFixed(2)}x; A had copied ${aCopiedWhenBEnded} of ${BIG}\n`,
    );
    // A was still at work the whole time B ran: the comparison measured contention, not two quiet runs.
    expect(aJobAtBEnd.body.finishedAt ?? null).toBeNull();
    expect(aCopiedWhenBEnded).toBeLessThan(BIG);
    expect(together.median).toBeLessThanOrEqual(2 * alone.median);

    // A itself is not harmed: every object lands, counted once.
    const aDone = await a.finish(aJob);
    expect(aDone).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: BIG, objectsProcessed: BIG, objectsFailed: 0 });
    expect(await countFiles(a.lakeRoot)).toBe(BIG);

    // Each organisation's activities were dispatched under its own fairness key.
    const keysOf = async (jobId: string) => {
      // The last run of the job's workflow (a long one continues as new) schedules activities like every run.
      const { events } = await ls.runtime.temporal.workflow.getHandle(syncRunWorkflowId(jobId)).fetchHistory();
      return new Set(
        (events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.priority?.fairnessKey ?? ''] : [])),
      );
    };
    expect(await keysOf(together.jobIds[0]!)).toEqual(new Set(['org-b']));
    expect(await keysOf(aJob)).toEqual(new Set(['org-a']));
  });
});
