/**
 * The benchmark's Temporal bill: billable actions and history events of each
 * lakesync job (its job workflow's runs and the controller run that started
 * it) per 1,000 copied objects, and of an idle poll (a scheduled poll that
 * finds nothing), read from the real histories with the tests' action
 * mapping (test/support/billable.ts).
 */
import type { Client } from '@temporalio/client';
import type { Sql } from 'postgres';
import { countActions } from '../test/support/billable.js';
import { historyChain } from '../test/support/history.js';
import { controllerWorkflowId, syncRunWorkflowId } from '../workflows/shared.js';

type HistoryEvent = Awaited<ReturnType<typeof historyChain>>[number];

interface CostInput {
  client: Client;
  sql: Sql;
  sourceId: string;
  jobs: { scenario: string; jobId: string }[];
  objects: number;
  callApi: (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;
  log: (line: string) => void;
}

/** Every run of the source's controller, oldest first. */
async function controllerRuns(client: Client, sourceId: string): Promise<HistoryEvent[][]> {
  const runs: { start: number; events: HistoryEvent[] }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId="${controllerWorkflowId(sourceId)}"` }))
    runs.push({ start: wf.startTime.getTime(), events: (await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [] });
  return runs.sort((a, b) => a.start - b.start).map((r) => r.events);
}

export async function temporalCost({ client, sql, sourceId, jobs, objects, callApi, log }: CostInput): Promise<void> {
  const runs = await controllerRuns(client, sourceId);
  for (const { scenario, jobId } of jobs) {
    const [row] = await sql<{ run_id: string | null; objects_processed: number }[]>`select run_id, objects_processed from jobs where id = ${jobId}`;
    const job = row?.run_id ? await historyChain(client, syncRunWorkflowId(jobId), row.run_id) : [];
    const parent =
      runs.find((events) => events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === syncRunWorkflowId(jobId))) ?? [];
    const all = [...job, ...parent];
    const { total } = countActions(all);
    const copied = Number(row?.objects_processed ?? 0);
    log(
      `temporal: ${scenario} job: ${total} billable actions, ${all.length} history events` +
        (copied > 0 ? ` (${((total * 1000) / copied).toFixed(1)} actions per 1,000 copied objects)` : '') +
        `; ${objects} objects listed`,
    );
  }

  // Idle polls: the source polls every 5 s and nothing changes.
  const since = new Date();
  await callApi('PATCH', `/bench/sources/${sourceId}`, { syncIntervalSeconds: 5 });
  const idle = async () =>
    Number(
      (
        await sql<{ n: string }[]>`select count(*) as n from jobs where source_id = ${sourceId} and trigger = 'schedule'
          and objects_discovered = 0 and finished_at is not null and created_at > ${since}`
      )[0]?.n ?? 0,
    );
  const deadline = Date.now() + 30_000;
  while ((await idle()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  // Let the second poll's workflow task arm the next timer.
  await new Promise((r) => setTimeout(r, 1000));
  const latest = (await controllerRuns(client, sourceId)).at(-1) ?? [];
  const pollIds = new Set(latest.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollSource').map((e) => String(e.eventId)));
  const ends = latest.flatMap((e, i) => (pollIds.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)) ? [i] : []));
  const first = latest.findIndex((e) => e.timerFiredEventAttributes);
  const cut = latest.findIndex((e, i) => i > (ends.at(-1) ?? latest.length) && e.timerStartedEventAttributes);
  if (ends.length === 0 || first < 0 || cut < 0) {
    log('temporal: no idle poll measured (none completed within 30 s)');
    return;
  }
  const window = latest.slice(first, cut + 1);
  const { total, byKind } = countActions(window);
  log(
    `temporal: idle poll (${objects} keys listed): ${(total / ends.length).toFixed(1)} billable actions, ` +
      `${(window.length / ends.length).toFixed(1)} history events (${ends.length} polls: ${JSON.stringify(byKind)}; heartbeats, not in histories, not counted)`,
  );
}
