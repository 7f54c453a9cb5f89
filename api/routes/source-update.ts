import type { SourceRow } from '../../db/schema.js';
import type { FileFilters } from '../../domain/source-config.js';
import { filtersProblem, movedCredentialsProblem, patchConnection, type ConnectionChange } from '../../domain/source-kinds.js';
import type { SecretBox } from '../../domain/secrets.js';
import { ApiError } from '../errors.js';
import type { UpdateSourceInput } from './source-schemas.js';
import { notificationsChange } from '../source-notifications.js';

/**
 * Applies a PATCH body to a source row: the columns to write, and the change
 * of connection (whose edge checks the caller runs), if the body makes one.
 */
export function applyUpdate(
  source: SourceRow,
  body: UpdateSourceInput,
  secrets: SecretBox,
): { set: Partial<SourceRow>; connection: ConnectionChange | null; issuedToken?: string; notificationDestinations: { field: string; url: string }[] } {
  const set: Partial<SourceRow> = {};
  const notifications = body.notifications ? notificationsChange(source, body.notifications, secrets) : null;
  if (notifications) Object.assign(set, notifications.set);
  for (const k of [
    'name',
    'syncMode',
    'syncIntervalSeconds',
    'batchSize',
    'targetPrefix',
    'maxObjectsPerRun',
    'shards',
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
    const refused = filtersProblem(source.kind, filters);
    if (refused) throw ApiError.invalid(refused.field, refused.problem);
    set.filters = filters as FileFilters;
  }
  if (body.reconcile) set.reconcile = { ...source.reconcile, ...body.reconcile };
  const connection = patchConnection(source.connection, body);
  if (connection && 'wrongKind' in connection) throw ApiError.invalid(connection.wrongKind, `only applies to ${connection.wrongKind} sources`);
  if (connection) {
    // Only a source that has credentials has any to send elsewhere.
    const moved = source.sealedCredentials === null ? null : movedCredentialsProblem(source.connection, connection);
    if (moved) throw ApiError.invalid(moved.field, moved.problem);
    set.connection = connection.connection;
    if (connection.credentials) set.sealedCredentials = secrets.seal(connection.credentials);
  }
  return { set, connection, issuedToken: notifications?.token, notificationDestinations: notifications?.destinations ?? [] };
}
