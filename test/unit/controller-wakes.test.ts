/**
 * Controller wake-ups when the API stops (api/wake-controller.ts), against the
 * suite's real Temporal: one not yet sent is dropped rather than sent on a
 * closing client, and one on its way is awaited before settle returns, so the
 * connection never closes under a call.
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
