/**
 * A per-worker cap on object copies per second (rclone's --tpslimit): shared
 * by every batch on the worker, so a slow or metered endpoint is never flooded.
 */
export class Throttle {
  private next = 0;
  constructor(private readonly perSecond: number) {}

  async take(): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }
}
