import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests, production); otherwise workflows are bundled at start. */
  workflowBundle?: { code: string };
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** One worker runs lakesync's workflows and activities on one task queue. */
export async function createWorker(o: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    activities: createActivities(o.deps),
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath }),
    maxConcurrentActivityTaskExecutions: Math.max(8, o.deps.batchConcurrency * 2 + 4),
    shutdownGraceTime: o.shutdownGraceTime ?? '30 seconds',
    // Heartbeats carry scan cursors and batch progress: send them every few seconds, not every 30–60.
    maxHeartbeatThrottleInterval: '5 seconds',
    defaultHeartbeatThrottleInterval: '5 seconds',
  });
}
