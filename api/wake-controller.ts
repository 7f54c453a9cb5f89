import type { Client, SignalDefinition } from '@temporalio/client';
import type { SourceRow } from '../db/schema.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';

const pending = new Map<string, { timer: NodeJS.Timeout; client: Client }>();
const lastSent = new Map<string, number>();
/** Signals on their way, per client: a client's connection must not close under one (see settleControllerWakes). */
const sending = new Map<Client, Set<Promise<void>>>();
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
  const client = deps.temporal;
  const timer = setTimeout(
    () => {
      pending.delete(slot);
      lastSent.set(slot, Date.now());
      // Wrapped so a client already closed (the API shutting down) rejects here rather than throwing in a timer.
      const sent = Promise.resolve()
        .then(() => client.workflow.signalWithStart('sourceController', { ...controllerStartOptions(deps, source, bucketName), signal, signalArgs: [] }))
        .then(
          () => undefined,
          (err: unknown) => deps.log.warn({ err, sourceId: source.id, signal: signal.name }, 'could not wake the controller; the periodic check will'),
        );
      const mine = sending.get(client) ?? sending.set(client, new Set()).get(client)!;
      mine.add(sent);
      void sent.then(() => mine.delete(sent));
    },
    Math.max(0, (lastSent.get(slot) ?? 0) + SPACING_MS - Date.now()),
  );
  pending.set(slot, { timer, client });
}

/**
 * Before `client`'s connection closes: wake-ups not yet sent are dropped (the
 * periodic controller check signals for what waits); resolves once those on
 * their way are done. A call still in flight when the channel shuts down is
 * retried by the Temporal client from a timer, which then throws on the
 * closed channel where nothing can catch it.
 */
export async function settleControllerWakes(client: Client): Promise<void> {
  for (const [slot, p] of pending)
    if (p.client === client) {
      clearTimeout(p.timer);
      pending.delete(slot);
    }
  const mine = [...(sending.get(client) ?? [])];
  sending.delete(client);
  await Promise.all(mine);
}
