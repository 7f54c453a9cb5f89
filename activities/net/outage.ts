import { causes, connectionFailed } from '../../domain/unreachable.js';

/**
 * S3 answers of a server cutting requests short as it stops (MinIO answers
 * what is in flight with ClientDisconnected, 499) or timing a socket out.
 */
const CUT_SHORT = new Set(['ClientDisconnected', 'RequestTimeout']);

/**
 * A server a copy needs (the source, the lake, Postgres) is down or
 * restarting, rather than the object being at fault: a socket failed, or an
 * S3 service answered 5xx (after the client's own quick retries) or cut the
 * request short.
 */
export function serverDown(err: unknown): boolean {
  if (connectionFailed(err)) return true;
  return causes(err).some((e) => {
    if (CUT_SHORT.has((e as { name?: unknown }).name as string)) return true;
    // The AWS SDK's errors carry the answer's status in $metadata; the lake's copier in `status`.
    const status = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode ?? (e as { status?: unknown }).status;
    return typeof status === 'number' && status >= 500;
  });
}

/**
 * How many attempts of a batch an outage may fail before its objects are
 * charged attempts again. The batch's retry policy backs off 2 s, 4 s, … up
 * to 1 min, so ten attempts ride out about five minutes of outage; a source
 * gone for longer still ends in dead letters, and its run ends.
 */
export const OUTAGE_BATCH_ATTEMPTS = 10;
