import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A per-worker cap on object copies per second (rclone's --tpslimit): shared
 * by every batch on the worker, so a slow or metered endpoint is never flooded.
 */
export class Throttle {
  private next = 0;
  constructor(private readonly perSecond: number) {}

  /**
   * Waits for this copy's turn. False when `signal` aborted the wait (the
   * batch was cancelled): at a low rate a batch's queued copies would
   * otherwise keep starting, one a turn, long after the cancellation.
   */
  async take(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.perSecond <= 0) return true;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond;
    if (at > now) await sleep(at - now, undefined, signal ? { signal } : undefined).catch(() => undefined);
    return !signal?.aborted;
  }
}
