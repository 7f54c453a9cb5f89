import type { WorkflowHandle } from '@temporalio/client';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** What Temporal Cloud bills, by the kinds its Actions page names. */
export type ActionKind = 'workflow start' | 'child workflow start' | 'activity' | 'timer' | 'signal' | 'update' | 'search attributes' | 'local activities';

/**
 * The billable actions one history event stands for, after Temporal Cloud's
 * published Actions list (docs.temporal.io/cloud/actions):
 * - WorkflowExecutionStarted: a workflow start (client start, continue-as-new,
 *   or a child's start);
 * - StartChildWorkflowExecutionInitiated: the parent's intent to start a child
 *   (a child start is two actions: this one and the child's own start);
 * - ActivityTaskStarted: one per attempt (every start or retry), read from its
 *   `attempt`, since a history holds the last attempt only;
 * - TimerStarted: every timer, those behind `condition(fn, timeout)` included;
 * - WorkflowExecutionSignaled: every signal, counted where it is received, so a
 *   signal between two workflows counts once;
 * - WorkflowExecutionUpdateAccepted: every accepted update;
 * - UpsertWorkflowSearchAttributes: one per upsert command;
 * - MarkerRecorded of a local activity: all local activities of a workflow task
 *   are one action (counted per marker: an upper bound).
 * Patch markers, workflow tasks, completions and continue-as-new's own event
 * bill nothing. Not in a history, so not counted: activity heartbeats that
 * reach the server, queries, rejected updates.
 */
export function billableActions(e: HistoryEvent): { kind: ActionKind; n: number } | null {
  if (e.workflowExecutionStartedEventAttributes) return { kind: 'workflow start', n: 1 };
  if (e.startChildWorkflowExecutionInitiatedEventAttributes) return { kind: 'child workflow start', n: 1 };
  if (e.activityTaskStartedEventAttributes) return { kind: 'activity', n: Math.max(1, e.activityTaskStartedEventAttributes.attempt ?? 1) };
  if (e.timerStartedEventAttributes) return { kind: 'timer', n: 1 };
  if (e.workflowExecutionSignaledEventAttributes) return { kind: 'signal', n: 1 };
  if (e.workflowExecutionUpdateAcceptedEventAttributes) return { kind: 'update', n: 1 };
  if (e.upsertWorkflowSearchAttributesEventAttributes) return { kind: 'search attributes', n: 1 };
  if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') return { kind: 'local activities', n: 1 };
  return null;
}

/** The billable actions of some history events, by kind. */
export function countActions(events: HistoryEvent[]): { total: number; byKind: Partial<Record<ActionKind, number>> } {
  const byKind: Partial<Record<ActionKind, number>> = {};
  let total = 0;
  for (const e of events) {
    const a = billableActions(e);
    if (!a) continue;
    byKind[a.kind] = (byKind[a.kind] ?? 0) + a.n;
    total += a.n;
  }
  return { total, byKind };
}
