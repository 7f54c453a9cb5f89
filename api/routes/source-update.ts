import type { sources } from '../../db/schema.js';
import type { FileFilters, SourceConnection } from '../../domain/source-config.js';
import type { SecretBox } from '../../domain/secrets.js';
import { ApiError } from '../errors.js';
import type { UpdateSourceInput } from './source-schemas.js';

type SourceRow = typeof sources.$inferSelect;

/** Applies a PATCH body to a source row and returns the columns to write. */
export function applyUpdate(source: SourceRow, body: UpdateSourceInput, secrets: SecretBox): Partial<SourceRow> {
  const set: Partial<SourceRow> = {};
  for (const k of [
    'name',
    'syncMode',
    'syncIntervalSeconds',
    'batchSize',
    'targetPrefix',
    'maxObjectsPerRun',
    'skipDuplicates',
    'suspendAfterFailures',
  ] as const) {
    if (body[k] !== undefined) (set as Record<string, unknown>)[k] = body[k];
  }
  if (body.fileFilters) {
    const filters: Record<string, unknown> = { ...source.filters };
    for (const [k, v] of Object.entries(body.fileFilters)) {
      if (v === undefined) continue;
      if (v === null || (Array.isArray(v) && v.length === 0)) delete filters[k];
      else filters[k] = v;
    }
    set.filters = filters as FileFilters;
  }
  if (body.reconcile) set.reconcile = { ...source.reconcile, ...body.reconcile };
  const conn = source.connection;
  if (body.s3) {
    if (!('s3' in conn)) throw ApiError.invalid('s3', 'only applies to s3 sources');
    const { accessKeyId, secretAccessKey, sessionToken, ...rest } = body.s3;
    set.connection = { s3: { ...conn.s3, ...rest } } as SourceConnection;
    // New keys replace the old ones whole: a session token not given again is dropped.
    if (accessKeyId && secretAccessKey) set.sealedCredentials = secrets.seal({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
  }
  if (body.filesystem) {
    if (!('filesystem' in conn)) throw ApiError.invalid('filesystem', 'only applies to filesystem sources');
    set.connection = { filesystem: { ...conn.filesystem, ...body.filesystem } } as SourceConnection;
  }
  return set;
}
