import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { FAILURE } from '../domain/failures.js';
import { escapeControl } from '../domain/text.js';

/** The Postgres error (postgres.js `PostgresError`) behind `err`, through drizzle's wrapping. */
function postgresErrorOf(err: unknown): { code: string; message: string } | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'PostgresError' && typeof code === 'string') return { code, message: e.message };
  }
  return null;
}

/**
 * Turns a Postgres data exception raised anywhere in an activity into a
 * non-retryable failure, so no activity retries forever on an input it can
 * never store (and no controller wedges on it). Only the SQLSTATE and
 * Postgres's own message travel on, never drizzle's, which lists the query's
 * parameters.
 */
export function dataExceptionFailures(): ActivityInterceptorsFactory {
  return () => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          const pg = postgresErrorOf(err);
          if (!pg?.code.startsWith('22')) throw err;
          throw ApplicationFailure.create({
            type: FAILURE.unstorableValue,
            message: `Postgres refused a value (SQLSTATE ${pg.code}): ${escapeControl(pg.message)}`,
            nonRetryable: true,
            details: [{ sqlstate: pg.code }],
          });
        }
      },
    },
  });
}
