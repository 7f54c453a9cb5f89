import { eq } from 'drizzle-orm';
import { ApplicationFailure } from '@temporalio/activity';
import { buckets, sources, type SourceRow } from '../db/schema.js';
import { errorMessage } from '../domain/error-text.js';
import { FAILURE } from '../domain/failures.js';
import type { SourceKind } from '../domain/kinds.js';
import { kindedConnection } from '../domain/source-kinds.js';
import type { ActivityDeps } from './deps.js';
import { openSourceReader } from './storage/source-readers.js';
import type { SourceReader } from './storage/types.js';

export interface SourceContext {
  source: SourceRow;
  kind: SourceKind;
  bucketName: string;
  reader: SourceReader;
}

/** Loads a source and opens a reader on it, as its kind opens one (activities/storage/source-readers.ts). */
export async function loadSource(deps: ActivityDeps, sourceId: string): Promise<SourceContext> {
  const row = await findSourceRow(deps, sourceId);
  const connection = knownConnection(row.source.connection);
  return { ...row, kind: connection.kind, reader: await openSourceReader(deps, row.source, connection) };
}

/** A stored connection of no kind this code knows fails the activity for good: retrying cannot teach it the kind. */
function knownConnection(connection: SourceRow['connection']) {
  try {
    return kindedConnection(connection);
  } catch (err) {
    throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: errorMessage(err), nonRetryable: true });
  }
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
