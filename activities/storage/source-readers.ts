/**
 * SOURCE_READERS, the worker half of the source kind registry (the pure half
 * is domain/source-kinds.ts): per kind, how a reader is opened on a source, and
 * which errors from it are permanent. Credentials are unsealed here, in the
 * activity, and never leave it.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { SourceRow } from '../../db/schema.js';
import { FAILURE } from '../../domain/failures.js';
import type { SourceKind } from '../../domain/kinds.js';
import type { KindedConnection, SourceCredentials, SourceSettings } from '../../domain/source-kinds.js';
import type { ActivityDeps } from '../deps.js';
import { azurePermanent } from './azure-errors.js';
import { credentialIdentity } from './credential-identity.js';
import { FilesystemSourceReader } from './fs-source.js';
import { GcsClient, GcsError } from './gcs-client.js';
import { GcsSourceReader } from './gcs-source.js';
import { openPostgresTableReader, postgresTablePermanent } from './postgres-table.js';
import { createS3Client } from './s3-client.js';
import { S3SourceReader } from './s3-source.js';
import { egressPool } from '../net/egress-pool.js';
import { openSftpReader, sftpPermanent } from './sftp-source.js';
import type { SourceReader } from './types.js';

export interface SourceReaderKind<K extends SourceKind> {
  open(deps: ActivityDeps, source: SourceRow, settings: SourceSettings<K>): Promise<SourceReader>;
  /**
   * Whether an error from the kind's reader is one retrying within this run
   * cannot fix (a gone bucket, refused keys, a missing directory): the run
   * fails for good and the controller tries again on its next poll.
   */
  permanent(err: unknown): boolean;
  /**
   * How a scan of this kind splits into key-range shards (domain/shards.ts).
   * `ranges`: its reader lists from any key (a shard starts after its lower
   * bound and stops past its upper), and `groups` names where top-level
   * groups begin, for a first cut before the catalog knows the keys. `one`:
   * the kind scans as one stream.
   */
  sharding: { split: 'ranges'; groups(deps: ActivityDeps, source: SourceRow, settings: SourceSettings<K>): Promise<string[]> } | { split: 'one' };
}

/**
 * One stream: an SFTP walk holds a session per listing (servers cap them,
 * OpenSSH at 10), a table is read as one keyset query stream, and upload
 * sources are never listed.
 */
const ONE_SHARD = { split: 'one' } as const;

/** Azure and GCS list from any key (startFrom, startOffset) but this reader asks for no delimiter fan-out: cuts come from the catalog's keys once a scan has listed them. */
const RANGES_FROM_CATALOG = { split: 'ranges', groups: async () => [] } as const;

/** An error's code as the SDKs name it (`NoSuchBucket`) or Node does (`ENOENT`). */
export const errorCode = (err: unknown): string => {
  const e = err as { name?: string; code?: string } | null;
  return e?.code ?? e?.name ?? '';
};

const S3_PERMANENT = new Set(['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'PermanentRedirect']);
const FS_PERMANENT = new Set(['ENOENT', 'ENOTDIR', 'EACCES']);

/** Upload sources' objects are already in the lake: nothing to list or read. */
const PUSH_ONLY: SourceReader = {
  listPage: async () => {
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'upload sources are push-only and cannot be listed', nonRetryable: true });
  },
  openRead: async () => {
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'upload sources are push-only', nonRetryable: true });
  },
  contentHash: async () => null,
  head: async () => null,
};

// S3 readers keep their HTTP connection pools between activities of the same source.
const s3Readers = new WeakMap<ActivityDeps, Map<string, { version: number; reader: S3SourceReader }>>();

function cachedS3Reader(deps: ActivityDeps, source: SourceRow, settings: SourceSettings<'s3'>): S3SourceReader {
  let cache = s3Readers.get(deps);
  if (!cache) s3Readers.set(deps, (cache = new Map()));
  const version = source.updatedAt.getTime();
  const hit = cache.get(source.id);
  if (hit && hit.version === version) return hit.reader;
  const creds = source.sealedCredentials ? deps.secrets.open<SourceCredentials<'s3'>>(source.sealedCredentials) : null;
  if (!creds) throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'source has no credentials', nonRetryable: true });
  const client = createS3Client({ ...settings, ...creds, maxSockets: deps.objectConcurrency * deps.batchConcurrency * 2, egress: deps.egress });
  const reader = new S3SourceReader(client, settings, creds, credentialIdentity(creds), egressPool(deps.egress));
  cache.set(source.id, { version, reader });
  return reader;
}

/** A refused key, a missing bucket, a request the API calls malformed: the same answer every time. */
const GCS_PERMANENT_STATUSES = new Set([400, 401, 403, 404]);
const gcsPermanent = (err: unknown): boolean => err instanceof GcsError && (err.status === 0 || GCS_PERMANENT_STATUSES.has(err.status));

function openGcsReader(deps: ActivityDeps, source: SourceRow, settings: SourceSettings<'gcs'>): SourceReader {
  const credentials = source.sealedCredentials ? deps.secrets.open<SourceCredentials<'gcs'>>(source.sealedCredentials) : null;
  // Only an emulator (or a private endpoint that wants none) is read without a key.
  if (!credentials && settings.endpoint === undefined)
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'source has no service-account key', nonRetryable: true });
  return new GcsSourceReader(new GcsClient({ endpoint: settings.endpoint, credentials, egress: deps.egress }), settings);
}

// The API checked the path when it was set; the worker checks again, against its own roots, before reading,
// and reads under the real path it checked, so a link swapped in later is refused when a file is opened.
async function openFilesystemReader(deps: ActivityDeps, settings: SourceSettings<'filesystem'>): Promise<FilesystemSourceReader> {
  const checked = await deps.fsAccess.checkSourceDir(settings.path);
  if ('problem' in checked)
    throw ApplicationFailure.create({
      type: checked.notFound ? FAILURE.sourceUnreachable : FAILURE.badSourceConfig,
      message: `filesystem.path ${checked.problem}`,
      nonRetryable: true,
    });
  return new FilesystemSourceReader(checked.real, { access: checked.access });
}

export const SOURCE_READERS: { [K in SourceKind]: SourceReaderKind<K> } = {
  s3: {
    open: async (deps, source, settings) => cachedS3Reader(deps, source, settings),
    permanent: (err) => S3_PERMANENT.has(errorCode(err)),
    sharding: { split: 'ranges', groups: async (deps, source, settings) => cachedS3Reader(deps, source, settings).topLevelPrefixes() },
  },
  filesystem: {
    open: async (deps, _source, settings) => openFilesystemReader(deps, settings),
    permanent: (err) => FS_PERMANENT.has(errorCode(err)),
    sharding: { split: 'ranges', groups: async (deps, _source, settings) => (await openFilesystemReader(deps, settings)).topLevelDirectories() },
  },
  gcs: {
    open: async (deps, source, settings) => openGcsReader(deps, source, settings),
    permanent: gcsPermanent,
    sharding: RANGES_FROM_CATALOG,
  },
  upload: {
    open: async () => PUSH_ONLY,
    // Its reader's only errors are permanent failures already.
    permanent: () => false,
    sharding: ONE_SHARD,
  },
  azure: {
    // The SDK loads with the first Azure source this worker reads.
    open: async (deps, source, settings) => (await import('./azure-source.js')).openAzureReader(deps, source, settings),
    permanent: azurePermanent,
    sharding: RANGES_FROM_CATALOG,
  },
  postgres: {
    open: async (deps, source, settings) => openPostgresTableReader(deps, source, settings),
    permanent: postgresTablePermanent,
    sharding: ONE_SHARD,
  },
  sftp: {
    open: async (deps, source, settings) => openSftpReader(deps, source, settings),
    permanent: sftpPermanent,
    sharding: ONE_SHARD,
  },
};

export function openSourceReader<K extends SourceKind>(deps: ActivityDeps, source: SourceRow, c: KindedConnection<K>): Promise<SourceReader> {
  return SOURCE_READERS[c.kind].open(deps, source, c.settings);
}
