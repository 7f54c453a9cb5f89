import { beginDiscoveryActivities } from './begin-discovery.js';
import { controllerStateActivities } from './controller-state.js';
import type { ActivityDeps } from './deps.js';
import { discoveryActivities } from './discovery.js';
import { eventActivities } from './events.js';
import { ingestionActivities } from './ingestion.js';
import { jobActivities } from './jobs.js';
import { processingActivities } from './processing.js';
import { purgeActivities } from './purge.js';
import { uploadActivities } from './uploads.js';

export type { ActivityDeps } from './deps.js';

/** The activity factory: workflows import its type only. */
export function createActivities(deps: ActivityDeps) {
  const parts = {
    ...jobActivities(deps),
    ...discoveryActivities(deps),
    ...eventActivities(deps),
    ...ingestionActivities(deps),
    ...processingActivities(deps),
    ...purgeActivities(deps),
    ...controllerStateActivities(deps),
    ...uploadActivities(deps),
  };
  return { ...parts, ...beginDiscoveryActivities(parts) };
}

export type Activities = ReturnType<typeof createActivities>;
