/**
 * Which of the API's own dependencies an error says is out of reach. A request
 * that fails because Postgres or Temporal is down (stopped, restarting,
 * unreachable) is answered 503 with Retry-After, naming the dependency: the
 * request was fine and will work once it is back, which the pool and the
 * client notice by themselves.
 */
import { isGrpcServiceError } from '@temporalio/client';
import { causes, postgresUnreachable } from '../domain/unreachable.js';

export type Dependency = 'postgres' | 'temporal';

/** How long a client should wait before asking again: about as long as a restart takes. */
export const RETRY_AFTER_SECONDS = 5;

/** gRPC codes of a Temporal server that is not there, UNAVAILABLE and DEADLINE_EXCEEDED (the client has already retried them a while). */
const GRPC_DOWN = new Set<number>([14, 4]);

export function unavailableDependency(err: unknown): Dependency | null {
  if (postgresUnreachable(err)) return 'postgres';
  const code = grpcStatusOf(err);
  return code !== null && GRPC_DOWN.has(code) ? 'temporal' : null;
}

/** The gRPC status of the Temporal call an error came from, or null when it did not come from one. */
export function grpcStatusOf(err: unknown): number | null {
  const grpc = causes(err).find((e) => isGrpcServiceError(e));
  return grpc && isGrpcServiceError(grpc) ? grpc.code : null;
}
