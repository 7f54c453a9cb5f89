import type { Client, SignalDefinition } from '@temporalio/client';
import type { SourceRow } from '../db/schema.js';
import { controllerStartOptions } from './controllers.js';
import type { ApiDeps } from './deps.js';

const pending = new Map<string, { timer: NodeJS.Timeout; client: Client }>();
/** Per slot: when its last signal went, and how long the next waits after it. */
const lastSent = new Map<string, { at: number; spacing: number }>();
/** Signals on their way, per client: a client's connection must not close under one (see settleControllerWakes). */
const sending = new Map<Client, Set<Promise<void>>>();
const QUIET_SPACING_MS = 200;
const BURST_SPACING_MS = 1600;

/**
 * Wakes a source's controller with `signal`: at once when the spacing since
 * the last one for this source and signal is up, else once it is. The
 * spacing is 200 ms after a quiet spell and doubles with each wake-up that
 * had to wait, up to 1.6 s: a lone PUT or event is taken at once, while a
 * sustained burst (an `aws s3 sync` of thousands of files) becomes one run
 * every 1.6 s instead of runs back to back, each paying a job's fixed cost
 * for a few objects. The database row (a pushed object, a waiting event) is
 * the durable record and the signal only a wake-up. (Should this process die
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
  // A slot whose spacing is up is as good as none: dropped once there are many, so sources come and go without the map growing.
  if (lastSent.size > 1024) for (const [s, l] of lastSent) if (l.at + l.spacing <= Date.now()) lastSent.delete(s);
  const last = lastSent.get(slot);
  const wait = last ? Math.max(0, last.at + last.spacing - Date.now()) : 0;
  const timer = setTimeout(() => {
    pending.delete(slot);
    const spacing = wait > 0 ? Math.min(BURST_SPACING_MS, last!.spacing * 2) : QUIET_SPACING_MS;
    lastSent.set(slot, { at: Date.now(), spacing });
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
  }, wait);
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
