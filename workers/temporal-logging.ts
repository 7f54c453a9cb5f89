import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** Routes the SDK's logs (workflow `log`, activity `log`, worker) into our pino logger. Once per process. */
export function installTemporalLogging(log: Logger): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      log[LEVELS[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}
