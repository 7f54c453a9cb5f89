import type { Client, WorkflowHandle } from '@temporalio/client';
import type { ControllerStatus } from '../../domain/messages/workflows/v1.js';
import { waitFor } from './http.js';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** The controller's own answer to the `status` query (its current run). */
export const controllerStatus = (client: Client, workflowId: string): Promise<ControllerStatus> =>
  client.workflow.getHandle(workflowId).query<ControllerStatus>('status');

/** The first payload of a signal or activity result, as the default JSON converter wrote it. */
export const payloadValue = (p: { payloads?: { data?: Uint8Array | null }[] | null } | null | undefined): unknown => {
  const data = p?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
};

/**
 * Waits until the controller's current run has finished starting up and is
 * waiting — its state recorded, no activity outstanding, and the workflow task
 * after that completed, so every command it took to wait (a timer, if any) is
 * in the history — and returns that run's events.
 */
export async function restingRun(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  return waitFor(
    `controller ${workflowId} waiting`,
    async () => {
      const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const typeOf = new Map<string, string>();
      const open = new Set<string>();
      let recordedAt = -1;
      events.forEach((e, i) => {
        const scheduled = e.activityTaskScheduledEventAttributes;
        if (scheduled) {
          typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
          open.add(String(e.eventId));
        }
        const done = e.activityTaskCompletedEventAttributes;
        if (done) {
          open.delete(String(done.scheduledEventId));
          if (typeOf.get(String(done.scheduledEventId)) === 'recordControllerState') recordedAt = i;
        }
      });
      // A run that has just continued as new is not the one that waits.
      const closed = events.some(
        (e) =>
          e.workflowExecutionContinuedAsNewEventAttributes ||
          e.workflowExecutionCompletedEventAttributes ||
          e.workflowExecutionFailedEventAttributes ||
          e.workflowExecutionTerminatedEventAttributes ||
          e.workflowExecutionCanceledEventAttributes ||
          e.workflowExecutionTimedOutEventAttributes,
      );
      const settled = !closed && recordedAt >= 0 && open.size === 0 && events.slice(recordedAt).some((e) => e.workflowTaskCompletedEventAttributes);
      return settled && events;
    },
    60_000,
    200,
  );
}

/** Whether a run's history arms a durable timer (the controller's next scheduled poll). */
export const armsTimer = (events: HistoryEvent[]): boolean => events.some((e) => e.timerStartedEventAttributes);
