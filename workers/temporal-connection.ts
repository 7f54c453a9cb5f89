import { readFile } from 'node:fs/promises';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Env } from '../config/env.js';

async function tls(env: Env) {
  if (!env.TEMPORAL_TLS) return undefined;
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    return { clientCertPair: { crt: await readFile(env.TEMPORAL_TLS_CERT_PATH), key: await readFile(env.TEMPORAL_TLS_KEY_PATH) } };
  }
  return true;
}

/**
 * The API's (and the heal pass's) connection. A call to a server that is down
 * gives up after 7 attempts, ~6 s of the SDK's backoff, rather than its default
 * 10 (~20 s): a request then gets its 503 with Retry-After instead of hanging,
 * and a blip shorter than that still goes unnoticed.
 */
export async function clientConnection(env: Env, address: string): Promise<Connection> {
  return Connection.connect({
    address,
    tls: await tls(env),
    apiKey: env.TEMPORAL_API_KEY,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 7 }))],
  });
}

export async function workerConnection(env: Env, address: string): Promise<NativeConnection> {
  // Loaded only where a worker runs: the API process never needs the worker SDK in memory.
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect({ address, tls: await tls(env), apiKey: env.TEMPORAL_API_KEY });
}
