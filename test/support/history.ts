import type { Client, WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/**
 * Every event of a workflow, across its continue-as-new chain, read run by
 * run from `firstRunId` (following each run's successor, not visibility, so
 * nothing is missed while the index catches up).
 */
export async function historyChain(client: Client, workflowId: string, firstRunId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let runId: string | null | undefined = firstRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const runEvents: HistoryEvent[] = history.events ?? [];
    events.push(...runEvents);
    runId = runEvents.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return events;
}

export interface ActivityReport {
  /** Activity type → how many completed. */
  completed: Map<string, number>;
  /** Worker identity → how many `ingestBatch` activities it ran to completion. */
  batchesByIdentity: Map<string, number>;
  /** Worker identity → the objects and bytes its completed batches report recording. */
  ingestedByIdentity: Map<string, { objects: number; bytes: number }>;
  timedOut: number;
  failed: number;
  /** Activities whose recorded attempt was not the first: something before it failed or timed out. */
  retried: number;
  /** Each retried activity's type, attempt and what ended its previous attempt, for the failure message. */
  retries: string[];
}

/** What a history says about its activities: who ran them, and whether any timed out, failed or needed a retry. */
export function activityReport(events: HistoryEvent[]): ActivityReport {
  const typeOf = new Map<string, string>();
  const identityOf = new Map<string, string>();
  const report: ActivityReport = {
    completed: new Map(),
    batchesByIdentity: new Map(),
    ingestedByIdentity: new Map(),
    timedOut: 0,
    failed: 0,
    retried: 0,
    retries: [],
  };
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) typeOf.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      identityOf.set(String(started.scheduledEventId), started.identity ?? '?');
      if ((started.attempt ?? 1) > 1) {
        report.retried++;
        report.retries.push(`${typeOf.get(String(started.scheduledEventId))} attempt ${started.attempt}: ${started.lastFailure?.message ?? '?'}`);
      }
    }
    if (e.activityTaskTimedOutEventAttributes) report.timedOut++;
    if (e.activityTaskFailedEventAttributes) report.failed++;
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const scheduled = String(completed.scheduledEventId);
      const type = typeOf.get(scheduled) ?? '?';
      report.completed.set(type, (report.completed.get(type) ?? 0) + 1);
      if (type === 'ingestBatch') {
        const who = identityOf.get(scheduled) ?? '?';
        report.batchesByIdentity.set(who, (report.batchesByIdentity.get(who) ?? 0) + 1);
        // The batch's BatchResult, as the default (JSON) payload converter wrote it.
        const result = JSON.parse(Buffer.from(completed.result?.payloads?.[0]?.data ?? []).toString('utf8') || '{}') as { ingested?: number; bytes?: number };
        const sum = report.ingestedByIdentity.get(who) ?? { objects: 0, bytes: 0 };
        report.ingestedByIdentity.set(who, { objects: sum.objects + (result.ingested ?? 0), bytes: sum.bytes + (result.bytes ?? 0) });
      }
    }
  }
  return report;
}
