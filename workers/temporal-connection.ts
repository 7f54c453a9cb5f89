import { readFile } from 'node:fs/promises';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Env } from '../config/env.js';

async function tls(env: Env) {
  if (!env.TEMPORAL_TLS) return undefined;
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    return { clientCertPair: { crt: await readFile(env.TEMPORAL_TLS_CERT_PATH), key: await readFile(env.TEMPORAL_TLS_KEY_PATH) } };
  }
  return true;
}

export async function clientConnection(env: Env, address: string): Promise<Connection> {
  return Connection.connect({ address, tls: await tls(env), apiKey: env.TEMPORAL_API_KEY });
}

export async function workerConnection(env: Env, address: string): Promise<NativeConnection> {
  return NativeConnection.connect({ address, tls: await tls(env), apiKey: env.TEMPORAL_API_KEY });
}
