import { describe, expect, it } from 'vitest';
import { TenantShare } from '../../activities/tenant-share.js';

/** A unit of work that runs until the test ends it. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
}

const settle = () => new Promise((r) => setImmediate(r));

/** A share on a clock the test moves: 8 copy slots, one unit when held back, quantum 10 s, linger 3 s, 20 activities. */
function share() {
  const clock = { t: 0 };
  const s = new TenantShare({ units: 8, heldUnits: 1, activityLimit: 20, lingerMs: 3000, quantumMs: 10_000, heldPause: 3 }, () => clock.t);
  return { s, clock };
}

/** Queues `n` units of `org`, each held open until its gate opens. */
function units(s: TenantShare, org: string, n: number) {
  const gates = Array.from({ length: n }, () => gate());
  const runs = gates.map((g) => s.run(org, () => g.done));
  return { gates, runs };
}

/** Ends every queued unit and waits for them all. */
async function drain(u: ReturnType<typeof units>): Promise<void> {
  for (const g of u.gates) g.open();
  await Promise.all(u.runs);
}

describe('tenant share', () => {
  it('never holds back an organisation alone, however long it has run', async () => {
    const { s, clock } = share();
    const started = s.enter('a');
    clock.t = 60_000;
    const a = units(s, 'a', 8);
    await settle();
    expect(s.heldBack('a')).toBe(false);
    expect(s.inFlight('a')).toBe(8);
    await drain(a);
    s.leave('a', started);
  });

  it('holds an organisation past its quantum to one unit while a newcomer is present, and lets it go when the newcomer has lingered out', async () => {
    const { s, clock } = share();
    const aStarted = s.enter('a');
    // A's running activity counts before it ends.
    clock.t = 11_000;
    const bStarted = s.enter('b');
    expect(s.heldBack('a')).toBe(true);
    expect(s.heldBack('b')).toBe(false);
    const a = units(s, 'a', 4);
    const b = units(s, 'b', 4);
    await settle();
    expect(s.inFlight('a')).toBe(1);
    // The newcomer is not held back: every unit it asks for runs.
    expect(s.inFlight('b')).toBe(4);
    await drain(b);
    s.leave('b', bStarted);
    // Still present for the linger after its last step.
    a.gates[0]!.open();
    await settle();
    expect(s.inFlight('a')).toBe(1);
    // The linger over, the held units go: a timer looks again when it ends.
    clock.t += 3001;
    await new Promise((r) => setTimeout(r, 3100));
    expect(s.heldBack('a')).toBe(false);
    expect(s.inFlight('a')).toBe(3);
    await drain(a);
    s.leave('a', aStarted);
  });

  it('treats two organisations past their quanta alike: neither is held back', () => {
    const { s, clock } = share();
    const a = s.enter('a');
    const b = s.enter('b');
    clock.t = 20_000;
    expect(s.heldBack('a')).toBe(false);
    expect(s.heldBack('b')).toBe(false);
    s.leave('a', a);
    s.leave('b', b);
  });

  it('counts a workflow step (the sink) as presence, and starts an organisation over once it has been absent a linger', () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 12_000;
    s.touch('b');
    expect(s.heldBack('a')).toBe(true);
    // B keeps coming back within the linger: present throughout, A held back throughout.
    clock.t = 14_000;
    s.touch('b');
    clock.t = 16_500;
    expect(s.heldBack('a')).toBe(true);
    // B gone for longer than the linger.
    clock.t = 17_001;
    expect(s.heldBack('a')).toBe(false);
    s.leave('a', a);
    // A absent for a linger: its used time starts over, and it is a newcomer to a C that has used its quantum.
    clock.t = 30_000;
    const c = s.enter('c');
    clock.t = 41_000;
    const a2 = s.enter('a');
    expect(s.heldBack('c')).toBe(true);
    expect(s.heldBack('a')).toBe(false);
    s.leave('a', a2);
    s.leave('c', c);
  });

  it('becomes a held-back organisation itself once a newcomer has used its quantum', async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 10_000;
    const b = s.enter('b');
    const held = units(s, 'a', 3);
    await settle();
    expect(s.inFlight('a')).toBe(1);
    // B's long activity ends past its own quantum: both large now, A's held units go.
    clock.t = 20_500;
    s.leave('b', b);
    await settle();
    expect(s.heldBack('a')).toBe(false);
    expect(s.inFlight('a')).toBe(3);
    await drain(held);
    s.leave('a', a);
  });

  it('runs work of no organisation at once, and releases a unit however its work ends', async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 11_000;
    s.touch('b');
    let ran = 0;
    await Promise.all([1, 2, 3].map(() => s.run(undefined, async () => void ran++)));
    expect(ran).toBe(3);
    await expect(s.run('a', () => Promise.reject(new Error('copy failed')))).rejects.toThrow('copy failed');
    expect(s.inFlight('a')).toBe(0);
    s.leave('a', a);
  });

  it('lets a held-back unit go at once when its activity is cancelled while it waits', async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 11_000;
    s.touch('b');
    const first = gate();
    const running = s.run('a', () => first.done);
    const cancel = new AbortController();
    let ran = false;
    const waiting = s.run('a', async () => void (ran = true), cancel.signal);
    await settle();
    expect(ran).toBe(false);
    cancel.abort();
    await waiting;
    expect(ran).toBe(true);
    // Already cancelled: not queued at all.
    let again = false;
    await s.run('a', async () => void (again = true), cancel.signal);
    expect(again).toBe(true);
    first.open();
    await running;
    expect(s.inFlight('a')).toBe(0);
    s.leave('a', a);
  });

  it("keeps an organisation's units beyond the copy slots waiting in the share, where a hold reaches them within one copy", async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 10_990;
    const queued = units(s, 'a', 12);
    await settle();
    expect(s.inFlight('a')).toBe(8);
    clock.t = 11_000;
    s.touch('b');
    // Two 10 ms copies end: held back, each unit stays taken 30 ms, then the hold keeps the next from starting.
    queued.gates[0]!.open();
    queued.gates[1]!.open();
    await settle();
    expect(s.inFlight('a')).toBe(8);
    const paused = () => new Promise((r) => setTimeout(r, 60));
    await paused();
    expect(s.inFlight('a')).toBe(6);
    for (const g of queued.gates.slice(2, 7)) g.open();
    await paused();
    expect(s.inFlight('a')).toBe(1);
    clock.t = 14_001;
    for (const g of queued.gates.slice(7)) g.open();
    await Promise.all(queued.runs);
    s.leave('a', a);
  });

  it("holds nobody back once the running activities come near the worker's slots", () => {
    const { s, clock } = share();
    const started = Array.from({ length: 19 }, () => ['a', s.enter('a')] as const);
    clock.t = 11_000;
    const b = s.enter('b');
    // 20 running: at the limit, so held batches cannot be what keeps B's next step from a slot.
    expect(s.heldBack('a')).toBe(false);
    s.leave('a', started.pop()![1]);
    expect(s.heldBack('a')).toBe(true);
    s.leave('b', b);
    for (const [org, at] of started) s.leave(org, at);
  });

  it('lets held units go when a newcomer still running uses up its quantum', async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 10_000;
    const b = s.enter('b');
    clock.t = 19_900;
    const held = units(s, 'a', 3);
    await settle();
    expect(s.inFlight('a')).toBe(1);
    // B reaches its quantum 100 ms on, still running: a timer looks again then.
    clock.t = 20_001;
    await new Promise((r) => setTimeout(r, 200));
    expect(s.inFlight('a')).toBe(3);
    await drain(held);
    s.leave('b', b);
    s.leave('a', a);
  });

  it('paces a held-back scan: it waits heldPause times its page, at most the cap', async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    // Alone, pacing waits for nothing: it settles before the loop's next turn.
    const first = await Promise.race([s.pace('a', 200).then(() => 'paced'), new Promise((r) => setImmediate(() => r('next turn')))]);
    expect(first).toBe('paced');
    clock.t = 11_000;
    s.touch('b');
    const t1 = performance.now();
    await s.pace('a', 20);
    const held = performance.now() - t1;
    const t2 = performance.now();
    await s.pace('a', 5000, 100);
    const capped = performance.now() - t2;
    expect(held).toBeGreaterThanOrEqual(55);
    expect(capped).toBeGreaterThanOrEqual(95);
    // Under the default 2 s cap, far under 3 × 5 s: the cap given applied.
    expect(capped).toBeLessThan(1900);
    s.leave('a', a);
  });
  it("keeps a held-back organisation's unit taken for heldPause times its copy, without delaying the copy's result", async () => {
    const { s, clock } = share();
    const a = s.enter('a');
    clock.t = 11_000;
    s.touch('b');
    expect(s.heldBack('a')).toBe(true);
    // A second waiting for a copy slot is not the copy's time; the copy itself takes 20 ms on the share's
    // clock, so the next may start 60 ms of real time after it (not the 2 s cap that 3 × 1,020 ms would hit).
    const first = s.run('a', async (started) => {
      clock.t += 1000;
      started();
      clock.t += 20;
      return 'copied';
    });
    let secondStarted = 0;
    const second = s.run('a', async () => {
      secondStarted = performance.now();
    });
    const t0 = performance.now();
    // The result comes back at once: ahead of any timer.
    expect(await Promise.race([first, new Promise((r) => setTimeout(() => r('a timer first'), 30))])).toBe('copied');
    expect(s.inFlight('a')).toBe(1);
    await second;
    expect(secondStarted - t0).toBeGreaterThanOrEqual(55);
    expect(secondStarted - t0).toBeLessThan(1500);
    // Not held back (the newcomer lingered out), a unit is free the moment its copy ends.
    clock.t += 3001;
    await new Promise((r) => setTimeout(r, 70));
    expect(s.heldBack('a')).toBe(false);
    await s.run('a', async () => {
      clock.t += 20;
    });
    expect(s.inFlight('a')).toBe(0);
    s.leave('a', a);
  });
});
