/**
 * What a scheduled poll that finds nothing costs on Temporal: the history
 * events and billable actions of every workflow of a source, read from the
 * real server across ten idle polls of a ten-object directory source polled
 * every 5 s. An idle poll is one activity run by the controller in the run it
 * is in (no job workflow, no continue-as-new), recorded as a finished job, so
 * GetSyncStatus, the jobs list and the discovery lag stay right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { historyChain } from '../support/history.js';
import { restingRun } from '../support/controller.js';
import { countActions } from '../support/billable.js';
import { discoveryLagReader } from '../../metrics/discovery-lag.js';
import { recordIdlePoll } from '../../catalog/index.js';
import { syncRunWorkflowId } from '../../workflows/shared.js';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

const POLLS = 10;
const MAX_ACTIONS_PER_POLL = 4;
const MAX_EVENTS_PER_POLL = 20;
/** limit.historyCount.suggestContinueAsNew of the suite's dev server (test/support/global-setup.ts). */
const SUGGEST_CONTINUE_AS_NEW_AT = 400;

interface JobJson {
  jobId: string;
  kind: string;
  trigger: string;
  status: string;
  objectsListed: number;
  objectsChanged: number;
  objectsDiscovered: number;
  objectsProcessed: number;
  objectsDeleted: number;
  startedAt: string | null;
  finishedAt: string | null;
}

describe('the cost of an idle poll', () => {
  let ls: TestLakesync;
  let dir: string;
  const bucket = unique('kb');

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    dir = await mkdtemp(join(tmpdir(), 'lakesync-idle-'));
    for (let i = 0; i < 10; i++) await writeFile(join(dir, `f-${i}.txt`), `content ${i}`);
  });
  const jobsOfSource = async (sourceId: string): Promise<JobJson[]> =>
    (await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=1000`)).body.jobs;
  afterAll(async () => {
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    `costs at most ${MAX_ACTIONS_PER_POLL} billable actions and ${MAX_EVENTS_PER_POLL} history events, and is still recorded`,
    { timeout: 300_000 },
    async () => {
      const client = ls.runtime.temporal;
      const src = (await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'quiet', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 5 }))
        .body as { sourceId: string; workflowId: string };
      const jobsOf = async (): Promise<JobJson[]> => (await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${src.sourceId}&page_size=1000`)).body.jobs;

      // The first sync copies the ten objects; every poll after it finds nothing.
      const first = await call(ls.url, 'POST', `/${bucket}/sources/${src.sourceId}/discover`, {});
      expect((await waitForJob(ls.url, bucket, src.sourceId, first.body.jobId)).job.objectsProcessed).toBe(10);

      // Baseline: the controller's run waiting for its next poll, and the jobs so far. A run too long to hold ten
      // more polls before the server suggests continuing as new (the suite's server does at 400 events) is waited
      // out first: the new run's start is a once-per-run cost, not a poll's.
      let baseRun = '';
      await waitFor(
        'a controller run with room for ten polls',
        async () => {
          await restingRun(client, src.workflowId);
          baseRun = (await client.workflow.getHandle(src.workflowId).describe()).runId;
          const length = ((await client.workflow.getHandle(src.workflowId, baseRun).fetchHistory()).events ?? []).length;
          // An idle poll writes 11 events (measured); a margin of three more polls.
          return length + (POLLS + 3) * 12 < SUGGEST_CONTINUE_AS_NEW_AT;
        },
        120_000,
        1_000,
      );
      const baseEvents = (await client.workflow.getHandle(src.workflowId, baseRun).fetchHistory()).events ?? [];
      const known = new Set((await jobsOf()).map((j) => j.jobId));

      // Ten scheduled polls later, and the controller waiting again.
      const polls = await waitFor(
        `${POLLS} scheduled polls`,
        async () => {
          const fresh = (await jobsOf()).filter((j) => !known.has(j.jobId) && j.finishedAt);
          return fresh.length >= POLLS && fresh.reverse().slice(0, POLLS);
        },
        (POLLS + 6) * 5_000,
        500,
      );
      await restingRun(client, src.workflowId);

      // Every workflow of the source in the window: the controller's events after the baseline, cut at the timer
      // armed after the tenth poll ended, and the job workflow of each poll's job row, if one ran.
      const chain = await historyChain(client, src.workflowId, baseRun);
      const after = chain.slice(baseEvents.length);
      const scheduledPoll = new Set(
        after.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollSource').map((e) => String(e.eventId)),
      );
      // A poll ends when its pollSource activity completes, or, when it ran a job, when the job's workflow does.
      const pollEnds = after.flatMap((e, i) =>
        scheduledPoll.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) || e.childWorkflowExecutionCompletedEventAttributes ? [i] : [],
      );
      expect(pollEnds.length).toBeGreaterThanOrEqual(POLLS);
      const cut = after.findIndex((e, i) => i > pollEnds[POLLS - 1]! && e.timerStartedEventAttributes);
      expect(cut).toBeGreaterThan(0);
      const window = after.slice(0, cut + 1);
      const jobEvents: HistoryEvent[][] = [];
      for (const job of polls)
        jobEvents.push(
          await client.workflow
            .getHandle(syncRunWorkflowId(job.jobId))
            .fetchHistory()
            .then(
              (h) => h.events ?? [],
              () => [],
            ),
        );

      // Per poll: the controller's events from the timer firing to the next timer armed, and its job's, if any.
      const segments: HistoryEvent[][] = [];
      let start = 0;
      window.forEach((e, i) => {
        const last = i === window.length - 1;
        if ((e.timerFiredEventAttributes && i > start) || last) {
          segments.push(window.slice(start, last ? i + 1 : i));
          start = i;
        }
      });
      const perPoll = segments.map((seg, i) => {
        const events = [...seg, ...(jobEvents[i] ?? [])];
        return { events: events.length, actions: countActions(events).total };
      });
      const all = [...window, ...jobEvents.flat()];
      const total = countActions(all);
      process.stderr.write(
        `[idle-poll-cost] ${POLLS} idle polls: ${all.length} events (${(all.length / POLLS).toFixed(1)} a poll), ` +
          `${total.total} billable actions (${(total.total / POLLS).toFixed(1)} a poll) ${JSON.stringify(total.byKind)}; per poll ${JSON.stringify(perPoll)}\n`,
      );

      // Each was recorded as a finished discovery job that found nothing and ran no job workflow.
      for (const [i, job] of polls.entries()) {
        expect(job).toMatchObject({ kind: 'discovery', trigger: 'schedule', status: 'JOB_STATUS_SUCCEEDED', objectsListed: 10, objectsDiscovered: 0 });
        expect(job.objectsProcessed + job.objectsDeleted).toBe(0);
        expect(jobEvents[i]).toEqual([]);
        await expect(client.workflow.getHandle(syncRunWorkflowId(job.jobId)).describe()).rejects.toThrow(/not found/i);
      }
      expect(perPoll).toHaveLength(POLLS);
      for (const p of perPoll) {
        expect(p.actions).toBeLessThanOrEqual(MAX_ACTIONS_PER_POLL);
        expect(p.events).toBeLessThanOrEqual(MAX_EVENTS_PER_POLL);
      }
      expect(total.total).toBeLessThanOrEqual(MAX_ACTIONS_PER_POLL * POLLS);
      expect(all.length).toBeLessThanOrEqual(MAX_EVENTS_PER_POLL * POLLS);
      // No job workflow started, no continue-as-new, and one activity and one timer a poll.
      expect(total.byKind['child workflow start'] ?? 0).toBe(0);
      expect(total.byKind['workflow start'] ?? 0).toBe(0);
      expect(total.byKind).toMatchObject({ activity: POLLS, timer: POLLS });

      // K3's fields: the last idle poll is the source's last sync and success, the next is one interval after it.
      // Read between two polls: the newest job is the same before and after the status.
      const { status, newest } = await waitFor(
        'a status read between two polls',
        async () => {
          const before = (await jobsOf())[0]!;
          const status = (await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}/sync`)).body;
          const newest = (await jobsOf())[0]!;
          return before.jobId === newest.jobId && { status, newest };
        },
        20_000,
        100,
      );
      expect(status).toMatchObject({ status: 'SOURCE_STATUS_ACTIVE', lastJobId: newest.jobId, objectsDiscovered: '0', consecutiveFailures: 0 });
      expect(Number(status.lastSyncAt)).toBe(Date.parse(newest.finishedAt!));
      expect(status.lastSuccessAt).toBe(status.lastSyncAt);
      expect(Number(status.nextSyncAt)).toBe(Number(status.lastSyncAt) + 5_000);
      // The discovery lag counts from the start of the last idle poll's listing.
      const lag = (await discoveryLagReader(ls.runtime.db, pino({ level: 'silent' }))()).find((l) => l.sourceId === src.sourceId);
      expect(lag!.seconds).toBeLessThan((Date.now() - Date.parse(polls.at(-1)!.startedAt!)) / 1000 + 1);

      // A poll that finds work still runs a job workflow, as before.
      await writeFile(join(dir, 'f-new.txt'), 'new');
      const busy = await waitFor(
        'a poll that finds the new object',
        async () => (await jobsOf()).find((j) => j.objectsDiscovered === 1 && j.finishedAt),
        30_000,
        500,
      );
      expect(busy).toMatchObject({ trigger: 'schedule', status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 1 });
      // The job row is finished by the run's last activity, a workflow task before the run itself completes.
      const run = client.workflow.getHandle(syncRunWorkflowId(busy.jobId));
      await run.result();
      expect((await run.describe()).status.name).toBe('COMPLETED');
    },
  );

  it('runs a job when a poll finds a changed or a deleted object', { timeout: 120_000 }, async () => {
    const d = await mkdtemp(join(tmpdir(), 'lakesync-idle-'));
    try {
      for (let i = 0; i < 3; i++) await writeFile(join(d, `g-${i}.txt`), `content ${i}`);
      const src = (await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'moving', kind: 'filesystem', filesystem: { path: d }, syncIntervalSeconds: 5 }))
        .body as { sourceId: string };
      const jobWith = (what: string, match: (j: JobJson) => boolean) =>
        waitFor(what, async () => (await jobsOfSource(src.sourceId)).find((j) => j.finishedAt && match(j)), 45_000, 500);
      await jobWith('the first poll copying three objects', (j) => j.objectsProcessed === 3);
      await jobWith('an idle poll', (j) => j.objectsListed === 3 && j.objectsDiscovered === 0);

      await writeFile(join(d, 'g-0.txt'), 'content 0, longer now');
      const changed = await jobWith('a poll finding the change', (j) => j.objectsChanged === 1);
      expect(changed).toMatchObject({ trigger: 'schedule', status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 1 });
      await rm(join(d, 'g-1.txt'));
      const deleted = await jobWith('a poll finding the deletion', (j) => j.objectsDeleted === 1);
      expect(deleted).toMatchObject({ trigger: 'schedule', status: 'JOB_STATUS_SUCCEEDED' });
      // Both ran as job workflows, as every poll that finds work does.
      for (const job of [changed, deleted]) {
        // Finished in the database by the run's last activity, a workflow task before the run itself completes.
        const run = ls.runtime.temporal.workflow.getHandle(syncRunWorkflowId(job.jobId));
        await run.result();
        expect((await run.describe()).status.name).toBe('COMPLETED');
      }
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('records an idle poll once, however often its activity is retried', async () => {
    const src = (
      await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'retried', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 86400 })
    ).body as { sourceId: string; workflowId: string };
    // Its controller has recorded its state and waits a day: nothing else writes the source meanwhile.
    await restingRun(ls.runtime.temporal, src.workflowId);
    const poll = {
      jobId: `job_${unique('retry').replace(/-/g, '')}`,
      sourceId: src.sourceId,
      startedAt: new Date(),
      listed: 10,
      pages: 1,
      syncIntervalSeconds: 86400,
    };
    const run = { workflowId: 'w', runId: 'r' };
    const at = await recordIdlePoll(ls.runtime.db, poll, run);
    const source = async () => (await call(ls.url, 'GET', `/${bucket}/sources/${src.sourceId}`)).body;
    const first = await source();
    expect(first).toMatchObject({ lastJobId: poll.jobId, lastSyncAt: new Date(at).toISOString(), lastSuccessAt: new Date(at).toISOString() });
    expect(first.nextSyncAt).toBe(new Date(at + 86_400_000).toISOString());
    // The retry answers the recorded time and changes nothing.
    await new Promise((r) => setTimeout(r, 20));
    expect(await recordIdlePoll(ls.runtime.db, { ...poll, startedAt: new Date() }, run)).toBe(at);
    expect(await source()).toEqual(first);
    const rows = (await jobsOfSource(src.sourceId)).filter((j) => j.jobId === poll.jobId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ trigger: 'schedule', status: 'JOB_STATUS_SUCCEEDED', objectsListed: 10, objectsDiscovered: 0 });
  });
});
