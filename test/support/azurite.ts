import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import pLimit from 'p-limit';
import { startAzurite, type AzuriteServer } from '../../infra/azurite-server.js';

/** Azurite for one test file, in a scratch directory it removes when stopped. */
export async function startTestAzurite(): Promise<AzuriteServer> {
  return startAzurite({ dataDir: await mkdtemp(join(tmpdir(), 'lakesync-azurite-')), log: () => undefined });
}

/** A container of the server, signed with its account key; created when `create` is set. */
export async function azureContainer(server: AzuriteServer, name: string, create = true): Promise<ContainerClient> {
  const client = new ContainerClient(`${server.endpoint}/${name}`, new StorageSharedKeyCredential(server.account, server.accountKey));
  if (create) await client.create();
  return client;
}

export async function uploadAll(container: ContainerClient, prefix: string, files: Map<string, Buffer>, concurrency = 16): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all([...files].map(([key, body]) => limit(() => container.getBlockBlobClient(prefix + key).uploadData(body))));
}
