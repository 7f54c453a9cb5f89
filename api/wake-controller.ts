import type { SignalDefinition } from '@temporalio/client';
import type { SourceRow } from '../db/schema.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';

const pending = new Map<string, NodeJS.Timeout>();
const lastSent = new Map<string, number>();
const SPACING_MS = 200;

/**
 * Wakes a source's controller with `signal`: at once when none was sent for
 * it in the last 200 ms, else once those are up, so at most once per 200 ms per
 * source and signal. The database row (a pushed object, a waiting event) is
 * the durable record and the signal only a wake-up, so a burst of thousands
 * costs a few signals and a few coalesced runs. (Should this process die
 * before signalling, the periodic controller check signals for what waits.)
 */
export function wakeControllerSoon(
  deps: Pick<ApiDeps, 'temporal' | 'taskQueue' | 'log'>,
  source: SourceRow,
  bucketName: string,
  signal: SignalDefinition<[]>,
): void {
  const slot = `${source.id} ${signal.name}`;
  if (pending.has(slot)) return;
  pending.set(
    slot,
    setTimeout(
      () => {
        pending.delete(slot);
        lastSent.set(slot, Date.now());
        // Wrapped so a client already closed (the API shutting down) rejects here rather than throwing in a timer.
        Promise.resolve()
          .then(() =>
            deps.temporal.workflow.signalWithStart('sourceController', { ...controllerStartOptions(deps, source, bucketName), signal, signalArgs: [] }),
          )
          .catch((err) => deps.log.warn({ err, sourceId: source.id, signal: signal.name }, 'could not wake the controller; the periodic check will'));
      },
      Math.max(0, (lastSent.get(slot) ?? 0) + SPACING_MS - Date.now()),
    ),
  );
}
