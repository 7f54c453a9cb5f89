/**
 * Controller wake-ups when the API stops (api/wake-controller.ts), against the
 * suite's real Temporal: one not yet sent is dropped rather than sent on a
 * closing client, and one on its way is awaited before settle returns, so the
 * connection never closes under a call. And the spacing: a burst of wake-ups
 * becomes signals ever further apart (200 ms doubling to 1.6 s), while one
 * after a quiet spell goes at once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { pino } from 'pino';
import { settleControllerWakes, wakeControllerSoon } from '../../api/wake-controller.js';
import { controllerWorkflowId, objectsArrivedSignal } from '../../workflows/shared.js';
import type { SourceRow } from '../../db/schema.js';
import { unique } from '../support/lakesync.js';

let connection: Connection;
let temporal: Client;
const taskQueue = unique('wakes');
const log = pino({ level: 'silent' });

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('infra').temporalAddress });
  temporal = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

const source = () => ({ id: unique('src'), name: 'wakes', kind: 's3' }) as SourceRow;
const controllerExists = (id: string) =>
  temporal.workflow
    .getHandle(controllerWorkflowId(id))
    .describe()
    .then(
      () => true,
      (err: unknown) => (err instanceof WorkflowNotFoundError ? false : Promise.reject(err)),
    );

describe('controller wake-ups at shutdown', () => {
  it('drops a wake-up not yet sent', async () => {
    const s = source();
    wakeControllerSoon({ temporal, taskQueue, log }, s, 'bucket', objectsArrivedSignal);
    await settleControllerWakes(temporal);
    await new Promise((r) => setTimeout(r, 500));
    expect(await controllerExists(s.id)).toBe(false);
  });

  it('awaits a wake-up on its way, which then has reached Temporal', async () => {
    const s = source();
    wakeControllerSoon({ temporal, taskQueue, log }, s, 'bucket', objectsArrivedSignal);
    await new Promise((r) => setTimeout(r, 5)); // after the wake-up's timer (due at once): the signal is on its way
    await settleControllerWakes(temporal);
    expect(await controllerExists(s.id)).toBe(true);
    await temporal.workflow.getHandle(controllerWorkflowId(s.id)).terminate('test done');
  });
});

const signalTimes = async (id: string): Promise<number[]> => {
  const history = await temporal.workflow.getHandle(controllerWorkflowId(id)).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowExecutionSignaledEventAttributes)
    .map((e) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6));
};

describe('controller wake-up spacing', () => {
  it('spaces a sustained burst ever further apart, and wakes at once after a quiet spell', async () => {
    const s = source();
    const wake = () => wakeControllerSoon({ temporal, taskQueue, log }, s, 'bucket', objectsArrivedSignal);
    // A wake-up every 50 ms for 4 s: 80 calls. At a fixed 200 ms that is about 20 signals; doubling to 1.6 s,
    // they go at about 0, 0.2, 0.6, 1.4, 3.0 and 4.6 s.
    for (let i = 0; i < 80; i++) {
      wake();
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1700));
    const burst = await signalTimes(s.id);
    expect(burst.length).toBeGreaterThanOrEqual(4);
    expect(burst.length).toBeLessThanOrEqual(7);
    const gaps = burst.slice(1).map((t, i) => t - burst[i]!);
    // Each gap at least the one before, give or take a loaded machine's timer and RPC delays; the last near the 1.6 s cap.
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]! - 200);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    // It starts at 200 ms, not at the cap.
    expect(gaps[0]!).toBeLessThan(400);
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(1400);
    // Quiet for longer than the spacing: the next wake-up is signalled at once.
    await new Promise((r) => setTimeout(r, 1000));
    const asked = Date.now();
    wake();
    // And the spacing is back at 200 ms: a second wake-up 50 ms later goes about 200 ms after the first, not 1.6 s.
    await new Promise((r) => setTimeout(r, 50));
    wake();
    await new Promise((r) => setTimeout(r, 700));
    const after = await signalTimes(s.id);
    expect(after.length).toBe(burst.length + 2);
    expect(after.at(-2)! - asked).toBeLessThan(400);
    expect(after.at(-1)! - after.at(-2)!).toBeGreaterThanOrEqual(100);
    expect(after.at(-1)! - after.at(-2)!).toBeLessThan(450);
    await settleControllerWakes(temporal);
    await temporal.workflow.getHandle(controllerWorkflowId(s.id)).terminate('test done');
  });
});
