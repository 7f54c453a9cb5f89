import { ApplicationFailure } from '@temporalio/activity';
import type { EgressPolicy } from '../../domain/egress-policy.js';
import { FAILURE } from '../../domain/failures.js';
import { findEgressDenied } from './egress.js';
import { publicDestinationError } from './public-error.js';

/** An error's own text and its causes' codes, for the worker's log (never for the tenant in strict mode). */
export function errorDetail(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const x = e as { name?: string; code?: string; message?: string };
    parts.push(`${x.name ?? 'Error'}${x.code ? ` (${x.code})` : ''}: ${x.message ?? String(e)}`);
    e = typeof e === 'object' ? (e as { cause?: unknown }).cause : undefined;
  }
  return parts.join(' <- ').slice(0, 1000);
}

/**
 * The activity failure for an error from a tenant-given destination: a
 * refused destination fails for good; in strict mode an unreachable one is
 * retryable with a fixed message. Null when the error may surface as it is.
 */
export function destinationFailure(err: unknown, policy: EgressPolicy, log: (detail: Record<string, unknown>) => void): ApplicationFailure | null {
  const text = publicDestinationError(err, policy.mode === 'strict');
  if (text === null) return null;
  const denied = findEgressDenied(err);
  log({ error: errorDetail(err), ...(denied ? { deniedHost: denied.host, deniedAddresses: denied.addresses } : {}) });
  return denied
    ? ApplicationFailure.create({ type: FAILURE.egressDenied, message: text, nonRetryable: true })
    : ApplicationFailure.create({ type: FAILURE.endpointUnreachable, message: text });
}
