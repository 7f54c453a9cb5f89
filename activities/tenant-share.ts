export interface TenantShareOptions {
  /** Units (object copies) an organisation may run at once: the worker's copy slots. */
  units: number;
  /** Units a held-back organisation may run at once. */
  heldUnits: number;
  /**
   * The worker's activity slots, less a few kept free: with this many
   * activities running, nobody is held back, since held work that fills every
   * slot would stop the worker polling for the newcomer's next step.
   */
  activityLimit: number;
  /** How long an organisation counts as present after its last step. */
  lingerMs: number;
  /** Activity time an organisation may use, while present, before it is held back for newcomers. */
  quantumMs: number;
  /** While held back, a scan waits this many times as long as its last page took before listing the next, and a copy's unit stays taken this many times its copy. */
  heldPause: number;
}

/** The longest a held-back scan page or copy waits before the next. */
const MAX_PAUSE_MS = 2000;

interface Presence {
  /** Activities running, and the sum of their start times. */
  running: number;
  startSum: number;
  /** When it stops counting as present once none runs. */
  until: number;
  /** Activity time of the ones that ended. */
  usedMs: number;
}

/**
 * Tenant fairness inside one worker (README "Tenant fairness"). Temporal's
 * fairness keys take the task queue in turns between organisations, but once
 * a large sync's activities run, their copies and scan pages fill the
 * worker's one event loop, and each step of another organisation's small
 * sync waits behind them. So, as a multilevel feedback queue does, an
 * organisation that has used more than a quantum of activity time here is
 * held back while one that has not (a newcomer) is present: its copies to
 * `heldUnits` at once and paced, its scans paced. Newcomers run at full speed; two
 * large syncs, or one alone, are not held back at all.
 *
 * An organisation is present while one of its activities runs here, and for
 * `lingerMs` after its last step (an activity ending, or a workflow task
 * telling through the `tenants` sink): a sync's steps are separated by
 * workflow tasks and its jobs by its controller's, and those gaps must not
 * let a large sync fill the loop again. Its used time starts over once it
 * has been absent that long.
 */
export class TenantShare {
  private readonly present = new Map<string, Presence>();
  private readonly units = new Map<string, number>();
  /** Units waiting for admission, per organisation, in arrival order. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private wake: { at: number; timer: NodeJS.Timeout } | undefined;

  constructor(
    readonly options: TenantShareOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** An activity of `org` started on this worker: pass what this returns to `leave` when it ends. */
  enter(org: string): number {
    const p = this.presence(org);
    const t = this.now();
    p.running++;
    p.startSum += t;
    return t;
  }

  leave(org: string, startedAt: number): void {
    const p = this.present.get(org);
    if (!p) return;
    p.running--;
    p.startSum -= startedAt;
    const t = this.now();
    p.usedMs += t - startedAt;
    p.until = Math.max(p.until, t + this.options.lingerMs);
    this.admit();
  }

  /** Activity time `org` has used while present, its running activities' so far included: a long first batch counts before it ends. */
  private used(p: Presence, t: number): number {
    return p.usedMs + p.running * t - p.startSum;
  }

  /** A step of `org` outside any activity (a workflow task): present for the linger from now. */
  touch(org: string): void {
    const p = this.presence(org);
    p.until = Math.max(p.until, this.now() + this.options.lingerMs);
  }

  /**
   * Runs `fn` as one unit of `org`'s copying once it is admitted; work of no
   * organisation runs at once, and so does a unit whose activity is cancelled
   * while it waits (it finds the signal aborted and leaves its object owed).
   */
  async run<T>(org: string | undefined, fn: (started: () => void) => Promise<T>, cancelled?: AbortSignal): Promise<T> {
    if (org === undefined) return await fn(() => undefined);
    if (this.waiting.size > 0 || !this.admissible(org)) await this.wait(org, cancelled);
    else this.units.set(org, this.inFlight(org) + 1);
    // The copy's time runs from when `fn` says it started (past a copy slot it waited for), else from admission.
    let began = this.now();
    try {
      return await fn(() => void (began = this.now()));
    } finally {
      // A held-back unit stays taken for heldPause times its copy before the next starts: one unit of
      // back-to-back small copies would otherwise still fill most of the event loop. The result is not delayed.
      const pause = this.heldBack(org) && !cancelled?.aborted ? Math.min((this.now() - began) * this.options.heldPause, MAX_PAUSE_MS) : 0;
      if (pause > 0) setTimeout(() => this.release(org), pause).unref();
      else this.release(org);
    }
  }

  private release(org: string): void {
    const n = this.inFlight(org) - 1;
    if (n > 0) this.units.set(org, n);
    else this.units.delete(org);
    this.admit();
  }

  /**
   * After `busyMs` of one of `org`'s scan pages: while it is held back, waits
   * `heldPause` times as long (at most `maxPauseMs`). A scan holds no unit:
   * its pages must not wait behind its own sync's copies.
   */
  async pace(org: string | undefined, busyMs: number, maxPauseMs = MAX_PAUSE_MS): Promise<void> {
    if (org === undefined || !this.heldBack(org)) return;
    await new Promise((r) => setTimeout(r, Math.min(busyMs * this.options.heldPause, maxPauseMs)));
  }

  /** Whether `org` has used its quantum while a newcomer is present. */
  heldBack(org: string): boolean {
    const t = this.now();
    let mine: Presence | undefined;
    let newcomer = false;
    let running = 0;
    for (const [other, p] of this.present) {
      if (p.running === 0 && p.until <= t) {
        this.present.delete(other);
        continue;
      }
      running += p.running;
      if (other === org) mine = p;
      else if (this.used(p, t) < this.options.quantumMs) newcomer = true;
    }
    return newcomer && mine !== undefined && this.used(mine, t) >= this.options.quantumMs && running < this.options.activityLimit;
  }

  /** Units `org` runs now (for tests and metrics). */
  inFlight(org: string): number {
    return this.units.get(org) ?? 0;
  }

  private presence(org: string): Presence {
    let p = this.present.get(org);
    if (!p || (p.running === 0 && p.until <= this.now())) {
      // Absent for the linger: its used time starts over.
      p = { running: 0, startSum: 0, until: 0, usedMs: 0 };
      this.present.set(org, p);
    }
    return p;
  }

  /** Every organisation's units wait here beyond the copy slots, not in them: a hold then takes effect within one copy. */
  private admissible(org: string): boolean {
    const n = this.inFlight(org);
    return n < this.options.heldUnits || (n < this.options.units && !this.heldBack(org));
  }

  private wait(org: string, cancelled: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const admitted = () => {
        cancelled?.removeEventListener('abort', jump);
        resolve();
      };
      const jump = () => {
        const q = this.waiting.get(org);
        const i = q?.indexOf(admitted) ?? -1;
        if (i < 0) return; // admitted already
        q!.splice(i, 1);
        if (q!.length === 0) this.waiting.delete(org);
        this.units.set(org, this.inFlight(org) + 1);
        resolve();
      };
      if (cancelled?.aborted) {
        this.units.set(org, this.inFlight(org) + 1);
        return resolve();
      }
      cancelled?.addEventListener('abort', jump, { once: true });
      const q = this.waiting.get(org);
      if (q) q.push(admitted);
      else this.waiting.set(org, [admitted]);
      this.admit();
    });
  }

  /** Admits waiting units, organisations in turn; units still held back are looked at again when a newcomer's presence may have ended. */
  private admit(): void {
    let admitted = true;
    while (admitted && this.waiting.size > 0) {
      admitted = false;
      for (const [org, q] of this.waiting) {
        if (!this.admissible(org)) continue;
        const resolve = q.shift()!;
        // Back of the line: the Map's order is the turn.
        this.waiting.delete(org);
        if (q.length > 0) this.waiting.set(org, q);
        this.units.set(org, this.inFlight(org) + 1);
        resolve();
        admitted = true;
        break;
      }
    }
    if (this.waiting.size === 0) return;
    // A hold ends when a newcomer's presence lapses or when, still running, it uses up its quantum: look again at the first.
    const t = this.now();
    const ends = [...this.present.values()].flatMap((p) => {
      if (p.running === 0) return p.until > t ? [p.until] : [];
      const used = this.used(p, t);
      return used < this.options.quantumMs ? [t + (this.options.quantumMs - used) / p.running] : [];
    });
    if (ends.length === 0) return;
    const at = Math.min(...ends);
    if (this.wake && this.wake.at <= at) return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(
      () => {
        this.wake = undefined;
        this.admit();
      },
      Math.max(1, at - t),
    );
    timer.unref();
    this.wake = { at, timer };
  }
}
