import { recordEvents } from '../catalog/index.js';
import type { SourceRow } from '../db/schema.js';
import { keyFilter } from '../domain/filters.js';
import { webhookScope } from '../domain/notifications.js';
import type { ChangeEvent } from '../domain/s3-events.js';
import { kindedConnection } from '../domain/source-kinds.js';
import { objectsChangedSignal } from '../workflows/shared.js';
import type { ApiDeps } from './deps.js';
import { wakeControllerSoon } from './wake-controller.js';

/**
 * The one entry point for S3 change events of a source, whoever received them
 * (the webhook route, the SQS queue poller): events for its bucket
 * under its prefix that its filters' globs let through are recorded in
 * source_events and its controller is woken for a targeted run; the rest are
 * ignored. `undecodable`: events already dropped by the caller, counted as ignored.
 */
export async function acceptChangeEvents(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'taskQueue' | 'log'>,
  source: SourceRow,
  bucketName: string,
  events: readonly ChangeEvent[],
  undecodable = 0,
): Promise<{ accepted: number; ignored: number }> {
  const scope = webhookScope(kindedConnection(source.connection));
  const passes = keyFilter(source.filters);
  const keys = scope
    ? events
        .filter((e) => e.bucket === scope.bucket && e.key.startsWith(scope.prefix))
        .map((e) => ({ key: e.key.slice(scope.prefix.length), sequencer: e.sequencer }))
        // Directory markers are no objects (listings skip them too).
        .filter((e) => e.key !== '' && !e.key.endsWith('/') && passes(e.key))
    : [];
  const moved = await recordEvents(deps.db.$client, source.id, keys);
  if (moved > 0) wakeControllerSoon(deps, source, bucketName, objectsChangedSignal);
  return { accepted: keys.length, ignored: events.length + undecodable - keys.length };
}
