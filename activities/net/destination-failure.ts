import { ApplicationFailure } from '@temporalio/activity';
import type { EgressPolicy } from '../../domain/egress-policy.js';
import { errorDetail } from '../../domain/error-text.js';
import { FAILURE } from '../../domain/failures.js';
import { findEgressDenied } from './egress.js';
import { publicDestinationError } from './public-error.js';

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
