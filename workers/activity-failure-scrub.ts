import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { scrubQueryError } from '../domain/log-redaction.js';

/**
 * An activity's error becomes a Temporal failure (message and stack, stored
 * in workflow history, shown in the UI) and a worker log line. A failed
 * query's error carries its bound parameters — sealed credentials among
 * them — in both: they are cut before the SDK sees the error.
 */
export const activityFailureScrub: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw scrubQueryError(err);
      }
    },
  },
});
