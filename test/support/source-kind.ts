/**
 * What each source kind's e2e file does through the API, over and over: a
 * lake bucket of its own, a source of the kind in it, a discovery run to its
 * end, a wait for suspension, and the lake directory's contents.
 */
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { sources } from '../../db/schema.js';
import { EGRESS_DENIED_MESSAGE } from '../../domain/egress-policy.js';
import { activityReport, historyChain } from './history.js';
import { call, waitFor, waitForJob } from './http.js';
import { unique, type TestLakesync } from './lakesync.js';
import { tree } from './objects.js';

export function sourceKindApi<K extends string>(lakesync: () => TestLakesync, kind: K) {
  const url = () => lakesync().url;
  return {
    ownBucket: async (): Promise<string> => {
      const name = unique('kb');
      expect((await call(url(), 'POST', '/admin/buckets', { name })).status).toBe(201);
      return name;
    },
    /** The bucket's files in a directory lake, as sha256 digests by key. */
    lakeTree: (bucket: string) => tree(join((lakesync().lake as { dir: string }).dir, bucket)),
    createSource: async (bucket: string, part: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const res = await call(url(), 'POST', `/${bucket}/sources`, {
        name: unique(kind),
        kind,
        [kind]: part,
        syncIntervalSeconds: 3600,
        batchSize: 25,
        ...extra,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { sourceId: string; workflowId: string } & { [P in K]: Record<string, unknown> };
    },
    discover: async (bucket: string, sourceId: string, body: Record<string, unknown> = {}) => {
      const started = await call(url(), 'POST', `/${bucket}/sources/${sourceId}/discover`, body);
      expect(started.status).toBe(200);
      return waitForJob(url(), bucket, sourceId, started.body.jobId);
    },
    suspended: (bucket: string, sourceId: string) =>
      waitFor('the source to be suspended', async () => {
        const s = (await call(url(), 'GET', `/${bucket}/sources/${sourceId}`)).body;
        return s.status === 'SOURCE_STATUS_SUSPENDED' && s;
      }),
  };
}

/**
 * Points a source's stored host at `localhost` behind the API's back (a row
 * from before the policy was tightened) and runs it: the connection must be
 * refused when made, with the policy's fixed message and no retries.
 */
export async function expectRefusedWhenConnecting(ls: TestLakesync, bucket: string, sourceId: string, kind: string): Promise<void> {
  const [row] = await ls.runtime.db.select().from(sources).where(eq(sources.id, sourceId));
  const stored = row!.connection as Record<string, Record<string, unknown>>;
  const connection = { [kind]: { ...stored[kind], host: 'localhost' } };
  await ls.runtime.db
    .update(sources)
    .set({ connection: connection as (typeof sources.$inferSelect)['connection'], updatedAt: new Date() })
    .where(eq(sources.id, sourceId));
  const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
  const { job, sync } = await waitForJob(ls.url, bucket, sourceId, started.body.jobId);
  expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', error: EGRESS_DENIED_MESSAGE, objectsListed: 0 });
  expect(sync.lastError).toBe(EGRESS_DENIED_MESSAGE);
  const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
  expect(report.failed).toBe(1);
  expect(report.retries).toEqual([]);
}
