/**
 * The worker's copy slots (batch × object concurrency), shared by every batch
 * it runs, handed out fairly between sources: a source that holds its share
 * (`maxShare` of the slots) or more takes another only while no source under
 * its share waits, and waiting sources are served in turn, not in arrival
 * order. So a
 * large sync's thousands of queued copies never stand in front of a small
 * sync's few, yet a source alone on the worker uses every slot.
 */
export class CopySlots {
  private readonly held = new Map<string, number>();
  /** Waiting copies per source, in arrival order; a source's entry is deleted when it has none. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private free: number;
  /** The most slots one source holds while another waits. */
  readonly cap: number;

  constructor(
    readonly size: number,
    maxShare: number,
  ) {
    this.free = size;
    this.cap = Math.max(1, Math.floor(size * maxShare));
  }

  /** Runs `fn` in a slot of `sourceId`'s once one is its turn; the slot is released however `fn` ends. */
  async run<T>(sourceId: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(sourceId);
    try {
      return await fn();
    } finally {
      this.release(sourceId);
    }
  }

  /** Slots `sourceId` holds now (for tests and metrics). */
  holding(sourceId: string): number {
    return this.held.get(sourceId) ?? 0;
  }

  private acquire(sourceId: string): Promise<void> {
    // Straight in only when nobody queues ahead: a free slot is otherwise already promised to a waiter.
    if (this.free > 0 && this.waiting.size === 0) {
      this.take(sourceId);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(sourceId);
      if (queue) queue.push(resolve);
      else this.waiting.set(sourceId, [resolve]);
      this.dispatch();
    });
  }

  private take(sourceId: string): void {
    this.free--;
    this.held.set(sourceId, this.holding(sourceId) + 1);
  }

  private release(sourceId: string): void {
    this.free++;
    const n = this.holding(sourceId) - 1;
    if (n > 0) this.held.set(sourceId, n);
    else this.held.delete(sourceId);
    this.dispatch();
  }

  /** Hands free slots to waiters: sources under the cap first, each in its turn; a capped one only when it is the only one waiting. */
  private dispatch(): void {
    while (this.free > 0 && this.waiting.size > 0) {
      const next = this.nextSource();
      const queue = this.waiting.get(next)!;
      const resolve = queue.shift()!;
      // Back of the line: the Map's order is the round-robin turn.
      this.waiting.delete(next);
      if (queue.length > 0) this.waiting.set(next, queue);
      this.take(next);
      resolve();
    }
  }

  private nextSource(): string {
    let first: string | undefined;
    for (const sourceId of this.waiting.keys()) {
      first ??= sourceId;
      if (this.holding(sourceId) < this.cap) return sourceId;
    }
    // Every waiting source holds its share already: the slot would otherwise idle.
    return first!;
  }
}
