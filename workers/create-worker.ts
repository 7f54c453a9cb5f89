import type { Logger, WorkerDeploymentVersion } from '@temporalio/common';
import { Runtime, Worker, bundleWorkflowCode, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { activityLogContext } from './activity-log-context.js';
import { activityFailureScrub } from './activity-failure-scrub.js';
import { dataExceptionFailures } from './data-exception-failures.js';
import { tenantPresence, tenantSinks } from './tenant-presence.js';
import { activitySlots } from './activity-slots.js';
import { workflowsPath } from './bundle-paths.js';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests, production); otherwise workflows are bundled at start. */
  workflowBundle?: { code: string };
  /** After shutdown starts, how long in-flight activities may run before they are cancelled. */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** After shutdown starts, when the worker stops waiting and its run fails. */
  shutdownForceTime?: WorkerOptions['shutdownForceTime'];
  /** Worker Versioning: the deployment version this worker's build is; unversioned without it. */
  version?: WorkerDeploymentVersion;
}

/** The SDK's logger with info demoted to debug: the bundler logs webpack's module listing at info, a page of noise at start. */
function bundlerLogger(): Logger {
  const sdk = Runtime.instance().logger;
  return {
    log: (level, message, meta) => sdk.log(level === 'INFO' ? 'DEBUG' : level, message, meta),
    trace: (message, meta) => sdk.trace(message, meta),
    debug: (message, meta) => sdk.debug(message, meta),
    info: (message, meta) => sdk.debug(message, meta),
    warn: (message, meta) => sdk.warn(message, meta),
    error: (message, meta) => sdk.error(message, meta),
  };
}

/** One worker runs lakesync's workflows and activities on one task queue. */
export async function createWorker(o: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    activities: createActivities(o.deps),
    workflowBundle: o.workflowBundle ?? (await bundleWorkflowCode({ workflowsPath, logger: bundlerLogger() })),
    maxConcurrentActivityTaskExecutions: activitySlots(o.deps.batchConcurrency),
    shutdownGraceTime: o.shutdownGraceTime ?? '30 seconds',
    shutdownForceTime: o.shutdownForceTime,
    // Outermost first: data exceptions become non-retryable failures, then every failure loses its query parameters.
    interceptors: { activity: [tenantPresence(o.deps.tenants), activityLogContext(o.deps.db), activityFailureScrub, dataExceptionFailures()] },
    sinks: tenantSinks(o.deps.tenants),
    // Heartbeats carry scan cursors and batch progress: send them every few seconds, not every 30–60.
    maxHeartbeatThrottleInterval: '5 seconds',
    defaultHeartbeatThrottleInterval: '5 seconds',
    // Every workflow moves to the current build at its next task: controllers live as long as their source and a
    // sync run must finish when the build that started it stops. Command-order changes therefore still need patched().
    ...(o.version && { workerDeploymentOptions: { version: o.version, useWorkerVersioning: true, defaultVersioningBehavior: 'AUTO_UPGRADE' } }),
  });
}
