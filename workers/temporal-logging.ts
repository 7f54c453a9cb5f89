import { DefaultLogger, Runtime, type LogLevel, type MetricsBuffer } from '@temporalio/worker';
import type { Logger } from 'pino';
import { withSafeSerializers } from './logger.js';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The SDK's level for our pino level: what pino would drop is not worth crossing from Core. */
const sdkLevel = (level: string): LogLevel =>
  level === 'trace' ? 'TRACE' : level === 'debug' ? 'DEBUG' : level === 'info' ? 'INFO' : level === 'warn' ? 'WARN' : 'ERROR';

/**
 * Routes every SDK log line into our pino logger: workflow `log` (with the
 * SDK's workflowId, runId, workflowType), activity `log` (with the fields
 * workers/activity-log-context.ts adds) and Core's native lines, which it
 * would otherwise print in its own format. With a metrics buffer, Core's
 * worker metrics are recorded for metrics/temporal-sdk.ts. Once per process,
 * before any worker or native connection exists.
 */
export function installTemporalLogging(root: Logger, metricsBuffer?: MetricsBuffer): void {
  // The SDK logs failed activities' errors under `error`: serialized without query parameters.
  const log = withSafeSerializers(root);
  Runtime.install({
    // Our entry points own SIGINT/SIGTERM: they stop the API and the worker together, then exit.
    shutdownSignals: [],
    logger: new DefaultLogger(sdkLevel(log.level), (entry) => {
      log[LEVELS[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(metricsBuffer ? { metrics: { buffer: metricsBuffer } } : {}),
    },
  });
}
