import type { ErrorRequestHandler, Request } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { status as grpc } from '@grpc/grpc-js';
import { FAILURE } from '../domain/failures.js';
import { assertNever } from '../domain/kinds.js';
import { logFields } from './log-fields.js';
import { isClientGone } from './client-gone.js';
import { RETRY_AFTER_SECONDS, unavailableDependency, type Dependency } from './unavailable.js';

const DEPENDENCY_NAMES: Record<Dependency, string> = { postgres: 'Postgres', temporal: 'Temporal' };

export interface ErrorDetail {
  field: string;
  problem: string;
}

/** Each code's HTTP status and gRPC status: the one mapping both surfaces answer with (the message is the same on both). */
const STATUS = {
  INVALID_ARGUMENT: { http: 400, grpc: grpc.INVALID_ARGUMENT },
  UNAUTHENTICATED: { http: 401, grpc: grpc.UNAUTHENTICATED },
  PERMISSION_DENIED: { http: 403, grpc: grpc.PERMISSION_DENIED },
  NOT_FOUND: { http: 404, grpc: grpc.NOT_FOUND },
  ALREADY_EXISTS: { http: 409, grpc: grpc.ALREADY_EXISTS },
  FAILED_PRECONDITION: { http: 409, grpc: grpc.FAILED_PRECONDITION },
  PRECONDITION_FAILED: { http: 412, grpc: grpc.FAILED_PRECONDITION },
  RANGE_NOT_SATISFIABLE: { http: 416, grpc: grpc.OUT_OF_RANGE },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: grpc.RESOURCE_EXHAUSTED },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, grpc: grpc.INVALID_ARGUMENT },
  UNAVAILABLE: { http: 503, grpc: grpc.UNAVAILABLE },
  INTERNAL: { http: 500, grpc: grpc.INTERNAL },
} as const;
export type ErrorCode = keyof typeof STATUS;

/** The one error shape every route answers with: `{ code, message, details }`. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Sent as Retry-After: the request may well succeed when asked again then. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
  get status(): number {
    return STATUS[this.code].http;
  }
  get grpcStatus(): grpc {
    return STATUS[this.code].grpc;
  }
  static invalid(field: string, problem: string): ApiError {
    return new ApiError('INVALID_ARGUMENT', `${field}: ${problem}`, [{ field, problem }]);
  }
  static notFound(what: string): ApiError {
    return new ApiError('NOT_FOUND', `${what} not found`);
  }
  /** Postgres or Temporal is out of reach: nothing is wrong with the request, which may be sent again shortly. */
  static unavailable(dependency: Dependency, what = 'the request cannot be served now'): ApiError {
    return new ApiError('UNAVAILABLE', `${what}: ${DEPENDENCY_NAMES[dependency]} is unavailable; retry shortly`, [], RETRY_AFTER_SECONDS);
  }
  /** A source, pipeline or rule name another of the bucket's already holds. */
  /** Bucket names are global, as in S3: a taken name is a conflict whoever holds it. */
  static bucketNameTaken(name: string): ApiError {
    return new ApiError('ALREADY_EXISTS', `name: bucket ${name} already exists`, [{ field: 'name', problem: 'is already taken' }]);
  }

  static nameTaken(kind: 'source' | 'pipeline' | 'rule', name: string, bucket: string): ApiError {
    return new ApiError('ALREADY_EXISTS', `name: a ${kind} named ${name} already exists in bucket ${bucket}`, [
      { field: 'name', problem: 'is already taken in this bucket' },
    ]);
  }
}

export function fromZod(error: z.ZodError, prefix?: string): ApiError {
  const details = error.issues
    .map((issue) => {
      const path = issue.path.map(String);
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => ({ field: [...(prefix ? [prefix] : []), ...path, k].join('.'), problem: 'is not a known field' }));
      }
      return [{ field: [...(prefix ? [prefix] : []), ...path].join('.') || prefix || 'body', problem: issue.message }];
    })
    .flat();
  const message = details.map((d) => `${d.field}: ${d.problem}`).join('; ');
  return new ApiError('INVALID_ARGUMENT', message, details);
}

/** The lake refused a key: 409 for a file/folder clash in the directory lake, 400 for a key it can never store. */
function lakeRefusal(err: ApplicationFailure): ApiError {
  const problem = typeof err.details?.[0] === 'string' ? err.details[0] : err.message;
  return new ApiError(err.type === FAILURE.lakeKeyConflict ? 'ALREADY_EXISTS' : 'INVALID_ARGUMENT', `key: ${problem}`, [{ field: 'key', problem }]);
}

/**
 * Any error a request ended in, as the ApiError its client is answered with
 * (HTTP and gRPC alike); what the client cannot be told is logged here, with
 * the request's log fields.
 */
export function asApiError(err: unknown, log: Logger, fields: object): ApiError {
  if (err instanceof ApiError) return err;
  const down = unavailableDependency(err);
  if (down) {
    // Expected while a dependency restarts: the pool and the client reconnect by themselves.
    log.warn({ err, ...fields, dependency: down }, 'a dependency is unavailable; answered 503');
    return ApiError.unavailable(down);
  }
  if (err instanceof z.ZodError) return fromZod(err);
  if (err instanceof WorkflowNotFoundError) return new ApiError('NOT_FOUND', 'workflow not found');
  if (err instanceof ApplicationFailure && (err.type === FAILURE.lakeKeyConflict || err.type === FAILURE.unstorableKey)) return lakeRefusal(err);
  // body-parser's refusals (HTTP only).
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.parse.failed') return ApiError.invalid('body', 'is not valid JSON');
  if (type === 'entity.too.large')
    return new ApiError('PAYLOAD_TOO_LARGE', 'body: is larger than the limit', [{ field: 'body', problem: 'is larger than the limit' }]);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return ApiError.invalid('body', 'has an unsupported encoding');
  log.error({ err, ...fields }, 'unhandled error');
  return new ApiError('INTERNAL', 'internal error');
}

/** The error shape a route's clients read: lakesync's, DataInsider's or Mixpeek's. */
export type ErrorEnvelope = 'lakesync' | 'datainsider' | 'mixpeek';

/** Mixpeek's `error.type` for each code (its documented classes; 401 and 403 are both its UnauthorizedError). */
const MIXPEEK_TYPE: Record<ErrorCode, string> = {
  INVALID_ARGUMENT: 'BadRequestError',
  UNAUTHENTICATED: 'UnauthorizedError',
  PERMISSION_DENIED: 'UnauthorizedError',
  NOT_FOUND: 'NotFoundError',
  ALREADY_EXISTS: 'AlreadyExistsError',
  FAILED_PRECONDITION: 'BadRequestError',
  PRECONDITION_FAILED: 'BadRequestError',
  RANGE_NOT_SATISFIABLE: 'BadRequestError',
  PAYLOAD_TOO_LARGE: 'BadRequestError',
  UNSUPPORTED_MEDIA_TYPE: 'BadRequestError',
  UNAVAILABLE: 'UnavailableError',
  INTERNAL: 'InternalServerError',
};

function errorBody(envelope: ErrorEnvelope, e: ApiError): object {
  switch (envelope) {
    case 'lakesync':
      return { code: e.code, message: e.message, details: e.details };
    // DataInsider's clients read `{ code, msg }` (code 0 is success there; an error's code is its HTTP status).
    case 'datainsider':
      return { code: e.status, msg: e.message };
    case 'mixpeek':
      return { success: false, status: e.status, error: { message: e.message, type: MIXPEEK_TYPE[e.code], details: { fields: e.details } } };
    default:
      return assertNever(envelope, 'error envelope');
  }
}

/** `envelopeOf(req)`: the error shape the request's route answers in. */
export function errorHandler(log: Logger, envelopeOf: (req: Request) => ErrorEnvelope = () => 'lakesync'): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (isClientGone(req, err)) {
      log.info({ ...logFields(res), method: req.method }, 'the client closed the connection before its request ended');
      return;
    }
    // The answer has begun (a download): an error can only cut it short, so the client sees it incomplete.
    if (res.headersSent) {
      log.warn({ err, ...logFields(res) }, 'the response failed after it began; cut it short');
      res.destroy();
      return;
    }
    const apiError = asApiError(err, log, logFields(res));
    if (apiError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    res.status(apiError.status).json(errorBody(envelopeOf(req), apiError));
  };
}
