/**
 * Every recorded history (test/replay/histories/, from `npm run replay:record`)
 * replays on the current workflow code without a nondeterminism error: running
 * controllers survive the deploy. A change that alters command order must sit
 * behind `patched()`; a new workflow type needs a recording.
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Worker } from '@temporalio/worker';
import { recordedHistories, type RecordedHistory } from '../replay/histories.js';
import * as workflows from '../../workflows/index.js';
import { CHILD_END_FINISHES_JOB, COMPLETED_FOLLOWS_SYNC_MODE, HANDLERS_SET_STATE_ONLY, IDLE_POLLS_STAY_IN_RUN } from '../../workflows/source-controller.js';
import { END_HANDLER_SETS_STATE_ONLY } from '../../workflows/upload-sync.js';
import { COPY_THROUGH_SCAN, NO_PLAN_WHEN_NOTHING_OWED, SCAN_ENDS_JOB } from '../../workflows/sync-run.js';

describe('replay of recorded histories', () => {
  it('covers every workflow type', async () => {
    const recorded = new Set((await recordedHistories()).map((h) => h.workflowType));
    expect([...recorded].sort()).toEqual(Object.keys(workflows).sort());
  });

  it('holds runs from before and after each recorded patch, and each controller phase, so every path replays', async () => {
    const patchesOf = (h: RecordedHistory) =>
      (h.history.events ?? []).flatMap((e) => {
        const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        return data ? [JSON.parse(Buffer.from(data).toString('utf8')).id as string] : [];
      });
    const controllers = (await recordedHistories()).filter((h) => h.workflowType === 'sourceController');
    const marked = controllers.filter((h) => patchesOf(h).includes(HANDLERS_SET_STATE_ONLY));
    expect(marked.length).toBeGreaterThan(0);
    expect(controllers.length - marked.length).toBeGreaterThan(0);
    // Both paths' pause pushed to a running job are recorded too.
    const pushedPause = (h: RecordedHistory) => (h.history.events ?? []).some((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes);
    expect(controllers.filter((h) => !marked.includes(h)).some(pushedPause)).toBe(true);
    expect(marked.some(pushedPause)).toBe(true);

    // Controllers whose job's workflow ended outside its own catch (an operator terminated or cancelled it), on either side of its patch.
    const childEnded = controllers.filter((h) =>
      (h.history.events ?? []).some(
        (e) =>
          e.childWorkflowExecutionTerminatedEventAttributes ||
          e.childWorkflowExecutionCanceledEventAttributes ||
          e.childWorkflowExecutionFailedEventAttributes ||
          e.childWorkflowExecutionTimedOutEventAttributes,
      ),
    );
    expect(childEnded.some((h) => patchesOf(h).includes(CHILD_END_FINISHES_JOB))).toBe(true);
    expect(childEnded.some((h) => !patchesOf(h).includes(CHILD_END_FINISHES_JOB))).toBe(true);

    // Controllers on either side of the idle-poll patch; marked ones that looped over idle polls in one run, that
    // continued as new after idle polls alone (Temporal suggested it), and whose poll found work and ran a job.
    const idle = controllers.filter((h) => patchesOf(h).includes(IDLE_POLLS_STAY_IN_RUN));
    expect(idle.length).toBeGreaterThan(0);
    expect(controllers.length - idle.length).toBeGreaterThan(0);
    const events = (h: RecordedHistory) => h.history.events ?? [];
    const polls = (h: RecordedHistory) => events(h).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollSource').length;
    const startsChild = (h: RecordedHistory) => events(h).some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    const continued = (h: RecordedHistory) => events(h).some((e) => e.workflowExecutionContinuedAsNewEventAttributes);
    expect(idle.some((h) => polls(h) >= 2)).toBe(true);
    expect(idle.some((h) => polls(h) >= 2 && continued(h) && !startsChild(h))).toBe(true);
    expect(idle.some((h) => polls(h) >= 1 && startsChild(h))).toBe(true);

    // A completed initial_only controller switched to continuous (the patch is only reached on that path; the unmarked side is
    // every completed initial_only controller recorded before it, whose settings never reached it).
    expect(controllers.some((h) => patchesOf(h).includes(COMPLETED_FOLLOWS_SYNC_MODE))).toBe(true);

    // A controller that suspended after failed runs (its state carried on with suspended: true), so the suspended phase replays.
    const carried = (h: RecordedHistory) =>
      events(h)
        .flatMap((e) => [
          ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
          ...(e.workflowExecutionContinuedAsNewEventAttributes?.input?.payloads ?? []),
          ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
        ])
        .map((pl) => Buffer.from(pl.data ?? []).toString('utf8'));
    expect(controllers.some((h) => carried(h).some((text) => /"suspended":true/.test(text)))).toBe(true);

    // Upload syncs ended on either side of the end-handler patch.
    const ended = (await recordedHistories()).filter(
      (h) =>
        h.workflowType === 'uploadSync' &&
        (h.history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishUploadSync'),
    );
    expect(ended.some((h) => patchesOf(h).includes(END_HANDLER_SETS_STATE_ONLY))).toBe(true);
    expect(ended.some((h) => !patchesOf(h).includes(END_HANDLER_SETS_STATE_ONLY))).toBe(true);

    // A sync run from before the copy-through-scan patch that Temporal asked to continue as new while its scan still listed
    // (the path the patch changes; the marked side replays in test/e2e/copy-through-scan.test.ts).
    const scanOpenAtSuggestion = (h: RecordedHistory) => {
      let open = 0;
      for (const e of events(h)) {
        const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
        if (type === 'scanSource' || type === 'scanShard') open++;
        if (open > 0 && e.workflowTaskStartedEventAttributes?.suggestContinueAsNew) return true;
        if (e.activityTaskCompletedEventAttributes && open > 0 && isScanCompletion(h, e.activityTaskCompletedEventAttributes.scheduledEventId)) open--;
      }
      return false;
    };
    const isScanCompletion = (h: RecordedHistory, scheduledId: unknown) =>
      events(h).some(
        (e) =>
          String(e.eventId) === String(scheduledId) && ['scanSource', 'scanShard'].includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
      );
    const runs = (await recordedHistories()).filter((h) => h.workflowType === 'syncRun');
    expect(runs.some((h) => scanOpenAtSuggestion(h) && !patchesOf(h).includes(COPY_THROUGH_SCAN))).toBe(true);

    // Quiet discoveries on either side of the no-last-plan patch: marked ones went from their scan to finishJob; runs
    // from before (their scan's result says nothing of what is owed) planned once more after a scan that found nothing.
    const plannedAfterQuietScan = (h: RecordedHistory) => {
      const all = events(h);
      const done = all.findIndex((e) => {
        const completed = e.activityTaskCompletedEventAttributes;
        if (!completed || !isScanCompletion(h, completed.scheduledEventId)) return false;
        const data = completed.result?.payloads?.[0]?.data;
        const result = data ? JSON.parse(Buffer.from(data).toString('utf8')) : null;
        return result !== null && result.discovered === 0 && !('owes' in result);
      });
      return (
        done !== -1 &&
        all.slice(done).some((e) => ['planBatches', 'planShardBatches'].includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''))
      );
    };
    expect(runs.some((h) => patchesOf(h).includes(NO_PLAN_WHEN_NOTHING_OWED))).toBe(true);
    expect(runs.some((h) => plannedAfterQuietScan(h) && !patchesOf(h).includes(NO_PLAN_WHEN_NOTHING_OWED))).toBe(true);

    // Discoveries on either side of the scan-ends-job patch: marked ones that a single scan, or the shard that swept,
    // ended (no finishJob after it), and a marked sharded one that still owed objects (its run ended the job); runs from
    // before that swept a sharded scan with sweepShardedScan and ended with finishJob.
    const scheduled = (h: RecordedHistory, type: string) => events(h).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type);
    const scanResults = (h: RecordedHistory) =>
      events(h).flatMap((e) => {
        const completed = e.activityTaskCompletedEventAttributes;
        const data = completed?.result?.payloads?.[0]?.data;
        return completed && data && isScanCompletion(h, completed.scheduledEventId) ? [JSON.parse(Buffer.from(data).toString('utf8'))] : [];
      });
    const endsJob = runs.filter((h) => patchesOf(h).includes(SCAN_ENDS_JOB));
    expect(endsJob.some((h) => scanResults(h).some((r) => r.ended) && !scheduled(h, 'finishJob'))).toBe(true);
    expect(endsJob.some((h) => scanResults(h).some((r) => r.swept?.ended) && !scheduled(h, 'finishJob'))).toBe(true);
    expect(endsJob.some((h) => scanResults(h).some((r) => r.swept?.owes === true) && scheduled(h, 'finishJob'))).toBe(true);
    expect(endsJob.some((h) => scheduled(h, 'sweepShardedScan'))).toBe(false);
    expect(runs.some((h) => !patchesOf(h).includes(SCAN_ENDS_JOB) && scheduled(h, 'sweepShardedScan') && scheduled(h, 'finishJob'))).toBe(true);
  });

  it('replays every history on the current code', async () => {
    const histories = await recordedHistories();
    expect(histories.length).toBeGreaterThan(10);
    const failures: string[] = [];
    const results = Worker.runReplayHistories(
      // The worker's sinks, doing nothing: the code calls them (never on replay), and an unregistered one logs an error.
      {
        workflowBundle: { codePath: inject('infra').workflowBundlePath },
        replayName: 'lakesync-replay',
        sinks: { tenants: { present: { fn: () => undefined } } },
      },
      histories.map((h) => ({ workflowId: h.file, history: h.history })),
    );
    for await (const r of results) if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    expect(failures).toEqual([]);
  });
});
