/**
 * What a tenant is told when a destination it gave fails. In strict egress
 * mode, network-level failures (refused, reset, timed out, DNS, TLS) and
 * answers that did not come from an S3 service all read the same, so job
 * errors cannot be used to map which internal hosts and ports answer. The
 * worker's log keeps the detail.
 */
import { EGRESS_DENIED_MESSAGE } from '../../domain/egress-policy.js';
import { findEgressDenied } from './egress.js';

export const UNREACHABLE_MESSAGE = 'could not reach the endpoint';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EPROTO',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
]);
const NETWORK_CODE_PREFIXES = ['UND_ERR_', 'ERR_TLS_', 'ERR_SSL_', 'ERR_HTTP_', 'HPE_', 'CERT_', 'ERR_CERT_'];
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError']);

/** S3 error codes: an S3 service answered, and the code says what the tenant should fix. */
const S3_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError',
  'BadDigest',
  'ExpiredToken',
  'IllegalLocationConstraintException',
  'InternalError',
  'InvalidAccessKeyId',
  'InvalidArgument',
  'InvalidBucketName',
  'InvalidObjectState',
  'InvalidRange',
  'InvalidRequest',
  'InvalidToken',
  'NoSuchBucket',
  'NoSuchKey',
  'NoSuchVersion',
  'NotImplemented',
  'PermanentRedirect',
  'PreconditionFailed',
  'RequestTimeTooSkewed',
  'ServiceUnavailable',
  'SignatureDoesNotMatch',
  'SlowDown',
  'TemporaryRedirect',
  'TokenRefreshRequired',
]);

function chain(err: unknown): { name?: string; code?: string; $metadata?: unknown }[] {
  const out = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 10; depth++) {
    out.push(e as { name?: string; code?: string; $metadata?: unknown });
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** A failure below HTTP: the connection could not be made, kept, or trusted. */
function isNetworkError(err: unknown): boolean {
  return chain(err).some((e) => {
    const code = typeof e.code === 'string' ? e.code : '';
    return NETWORK_CODES.has(code) || NETWORK_CODE_PREFIXES.some((p) => code.startsWith(p)) || NETWORK_NAMES.has(e.name ?? '');
  });
}

/**
 * An AWS SDK error from an HTTP exchange whose answer was not a known S3 error
 * (another kind of server answered), or an error a source reader marked
 * `foreignAnswer` (an answer its service never gives).
 */
function isForeignAnswer(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: unknown; foreignAnswer?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return e.foreignAnswer === true || ('$metadata' in e && !S3_CODES.has(e.name ?? ''));
}

/**
 * The tenant-facing text for an error from a tenant-given destination, or
 * null when the original text may be shown as it is.
 */
export function publicDestinationError(err: unknown, redact: boolean): string | null {
  if (findEgressDenied(err)) return EGRESS_DENIED_MESSAGE;
  if (redact && (isNetworkError(err) || isForeignAnswer(err))) return UNREACHABLE_MESSAGE;
  return null;
}
