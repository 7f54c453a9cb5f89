/**
 * Azure Blob Storage sources (`@azure/storage-blob`): a container under a
 * prefix, listed in name order and resumed after any key with the List Blobs
 * `startFrom` parameter, so a scan's checkpoint is a key as for every other
 * kind. The change token is the blob's ETag.
 */
import {
  AnonymousCredential,
  ContainerClient,
  StorageSharedKeyCredential,
  isRestError,
  type ListBlobsFlatSegmentResponse,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { ApplicationFailure } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import type { SourceRow } from '../../db/schema.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';
import { azureDefaultEndpoint, type AzureConnection, type AzureCredentials } from '../../domain/azure-config.js';
import { FAILURE } from '../../domain/failures.js';
import type { ActivityDeps } from '../deps.js';
import { EgressDeniedError, egressAgents } from '../net/egress.js';
import type { ListedObject, ListedPage, SourceReader } from './types.js';
import { AzureStorageError } from './azure-errors.js';

/** Rethrows what the SDK threw in the form lakesync classifies: a refused destination, a network code, or an Azure error code. */
function normalized(err: unknown, host: string): Error {
  if (!isRestError(err)) return err as Error;
  if (err.code === 'EGRESS_DENIED') return new EgressDeniedError(host, []);
  const firstLine = err.message.split('\n')[0] ?? '';
  const foreign = err.statusCode !== undefined && !err.response?.headers.get('x-ms-request-id');
  // A HEAD's answer has no body: its code is only in the x-ms-error-code header.
  const code = err.code ?? err.response?.headers.get('x-ms-error-code') ?? `HTTP_${err.statusCode ?? 'ERROR'}`;
  return new AzureStorageError(firstLine, code, err.statusCode, foreign);
}

export class AzureSourceReader implements SourceReader {
  private readonly host: string;
  constructor(
    private readonly container: ContainerClient,
    private readonly prefix: string,
  ) {
    this.host = new URL(container.url).hostname;
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw normalized(err, this.host);
    }
  }

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const after = afterKey === null ? null : this.prefix + afterKey;
    const want = Math.min(pageSize, 5000);
    const page: ListBlobsFlatSegmentResponse = await this.call(async () => {
      // startFrom is inclusive: ask for one more, and drop the key the last page ended on.
      const pages = this.container
        .listBlobsFlat({ prefix: this.prefix || undefined, startFrom: after ?? undefined })
        .byPage({ maxPageSize: want + (after === null ? 0 : 1) });
      return (await pages.next()).value as ListBlobsFlatSegmentResponse;
    });
    // A service that ignored startFrom would hand back the first page for ever: fail instead of looping (compared in byte order, as keys are).
    if (after !== null && page.segment.blobItems.some((b) => Buffer.compare(Buffer.from(b.name), Buffer.from(after)) < 0))
      throw new AzureStorageError("the blob service ignored List Blobs' startFrom parameter", 'StartFromIgnored', undefined, false);
    const listed = page.segment.blobItems.filter((b) => b.name !== after);
    const kept = listed.slice(0, want);
    const more = !!page.continuationToken || listed.length > want;
    const objects: ListedObject[] = kept
      // A name ending in "/" is a folder marker (hierarchical namespaces), never an object.
      .filter((b) => !b.name.endsWith('/'))
      .map((b) => ({
        key: b.name.slice(this.prefix.length),
        etag: (b.properties.etag ?? '').replace(/"/g, ''),
        size: b.properties.contentLength ?? 0,
        lastModified: b.properties.lastModified ?? null,
      }));
    const last = kept.at(-1)?.name;
    return { objects, nextAfterKey: more && last !== undefined ? last.slice(this.prefix.length) : null };
  }

  async openRead(key: string): Promise<{ body: Readable; contentType?: string }> {
    // A dropped stream is resumed from where it stopped (the SDK asks for the rest with a range), up to 3 times.
    const res = await this.call(() => this.container.getBlobClient(this.prefix + key).download(0, undefined, { maxRetryRequests: 3 }));
    if (!res.readableStreamBody) throw new Error('Azure answered a download without a body');
    return { body: res.readableStreamBody as Readable, contentType: res.contentType };
  }

  /** What metadata filters read: the blob's properties (Azure keeps user metadata with lower-cased names). */
  async head(key: string): Promise<ObjectHead | null> {
    try {
      const props = await this.call(() => this.container.getBlobClient(this.prefix + key).getProperties());
      const metadata = Object.fromEntries(Object.entries(props.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      return { contentType: props.contentType ?? null, metadata };
    } catch (err) {
      // Only the blob gone: a missing container is a failure, not every key deleted.
      if (err instanceof AzureStorageError && err.code === 'BlobNotFound') return null;
      throw err;
    }
  }

  /** Azure keeps an MD5 for blobs uploaded whole (and for others when the uploader set it). */
  async contentHash(key: string): Promise<string | null> {
    const props = await this.call(() => this.container.getBlobClient(this.prefix + key).getProperties());
    return props.contentMD5 ? `md5:${Buffer.from(props.contentMD5).toString('hex')}` : null;
  }
}

/** A container client whose every connection obeys the destination policy, signed with the key or carrying the SAS. */
function containerClient(deps: ActivityDeps, settings: AzureConnection, creds: AzureCredentials): ContainerClient {
  const endpoint = (settings.endpoint ?? azureDefaultEndpoint(settings.account)).replace(/\/+$/, '');
  const url = new URL(`${endpoint}/${encodeURIComponent(settings.container)}`);
  const maxSockets = deps.objectConcurrency * deps.batchConcurrency * 2;
  const agents = egressAgents(deps.egress, { keepAlive: true, maxSockets });
  const options: StoragePipelineOptions & { agent: unknown } = {
    // Passed on to the core pipeline (its agentPolicy); the storage options' type does not list it.
    agent: url.protocol === 'https:' ? agents.httpsAgent : agents.httpAgent,
    // Whole-object retries are ours (counted per object); these are the SDK's quick ones for a dropped request.
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 4000 },
  };
  if ('accountKey' in creds) return new ContainerClient(url.toString(), new StorageSharedKeyCredential(settings.account, creds.accountKey), options);
  url.search = creds.sasToken;
  return new ContainerClient(url.toString(), new AnonymousCredential(), options);
}

// Readers keep their connection pools between activities of the same source, until its row changes.
const readers = new WeakMap<ActivityDeps, Map<string, { version: number; reader: SourceReader }>>();

/** The reader of an azure source; its credentials are unsealed here and stay in this worker. */
export function openAzureReader(deps: ActivityDeps, source: SourceRow, settings: AzureConnection): SourceReader {
  let cache = readers.get(deps);
  if (!cache) readers.set(deps, (cache = new Map()));
  const version = source.updatedAt.getTime();
  const hit = cache.get(source.id);
  if (hit && hit.version === version) return hit.reader;
  const creds = source.sealedCredentials ? deps.secrets.open<AzureCredentials>(source.sealedCredentials) : null;
  if (!creds) throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'source has no credentials', nonRetryable: true });
  const reader = new AzureSourceReader(containerClient(deps, settings, creds), settings.prefix);
  cache.set(source.id, { version, reader });
  return reader;
}
