import { eq } from 'drizzle-orm';
import { ApplicationFailure } from '@temporalio/activity';
import { buckets, sources } from '../db/schema.js';
import type { S3Credentials } from '../domain/source-config.js';
import { FAILURE } from '../domain/failures.js';
import type { ActivityDeps } from './deps.js';
import { createS3Client } from './storage/s3-client.js';
import { S3SourceReader } from './storage/s3-source.js';
import { credentialIdentity } from './storage/credential-identity.js';
import { FilesystemSourceReader } from './storage/fs-source.js';
import type { SourceReader } from './storage/types.js';

export type SourceRow = typeof sources.$inferSelect;

/** Upload sources' objects are already in the lake: nothing to list or read. */
const PUSH_ONLY: SourceReader = {
  listPage: async () => {
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'upload sources are push-only and cannot be listed', nonRetryable: true });
  },
  openRead: async () => {
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'upload sources are push-only', nonRetryable: true });
  },
  contentHash: async () => null,
};

export interface SourceContext {
  source: SourceRow;
  bucketName: string;
  reader: SourceReader;
}

/**
 * Loads a source and opens a reader on it. Credentials are unsealed here, in
 * the activity, and never leave it.
 */
export async function loadSource(deps: ActivityDeps, sourceId: string): Promise<SourceContext> {
  const row = await findSourceRow(deps, sourceId);
  // The API checked the path when it was set; the worker checks again, against its own roots, before reading,
  // and reads under the real path it checked, so a link swapped in later is refused when a file is opened.
  if ('filesystem' in row.source.connection) {
    const checked = await deps.fsAccess.checkSourceDir(row.source.connection.filesystem.path);
    if ('problem' in checked)
      throw ApplicationFailure.create({
        type: checked.notFound ? FAILURE.sourceUnreachable : FAILURE.badSourceConfig,
        message: `filesystem.path ${checked.problem}`,
        nonRetryable: true,
      });
    return { ...row, reader: new FilesystemSourceReader(checked.real, { access: checked.access }) };
  }
  return { ...row, reader: cachedReader(deps, row.source) };
}

/** A source and its bucket's name, for work that never reads the source (processing what is already stored). */
export async function findSourceRow(deps: Pick<ActivityDeps, 'db'>, sourceId: string): Promise<{ source: SourceRow; bucketName: string }> {
  const [row] = await deps.db
    .select({ source: sources, bucketName: buckets.name })
    .from(sources)
    .innerJoin(buckets, eq(buckets.id, sources.bucketId))
    .where(eq(sources.id, sourceId));
  if (!row) throw ApplicationFailure.create({ type: FAILURE.sourceNotFound, message: `source ${sourceId} no longer exists`, nonRetryable: true });
  return row;
}

// Readers keep their HTTP connection pools between activities of the same source.
const readers = new WeakMap<ActivityDeps, Map<string, { version: number; reader: SourceReader }>>();

function cachedReader(deps: ActivityDeps, source: SourceRow): SourceReader {
  let cache = readers.get(deps);
  if (!cache) readers.set(deps, (cache = new Map()));
  const version = source.updatedAt.getTime();
  const hit = cache.get(source.id);
  if (hit && hit.version === version) return hit.reader;
  const reader = openReader(deps, source);
  cache.set(source.id, { version, reader });
  return reader;
}

function openReader(deps: ActivityDeps, source: SourceRow): SourceReader {
  const conn = source.connection;
  if ('s3' in conn) {
    const creds = source.sealedCredentials ? deps.secrets.open<S3Credentials>(source.sealedCredentials) : null;
    if (!creds) throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'source has no credentials', nonRetryable: true });
    const client = createS3Client({ ...conn.s3, ...creds, maxSockets: deps.objectConcurrency * deps.batchConcurrency * 2, egress: deps.egress });
    return new S3SourceReader(client, conn.s3, credentialIdentity(creds));
  }
  return PUSH_ONLY;
}
