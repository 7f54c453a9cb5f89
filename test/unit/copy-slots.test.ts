import { describe, expect, it } from 'vitest';
import { CopySlots } from '../../activities/copy-slots.js';

/** A copy that runs until the test ends it. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
}

/** Queues `n` copies of `sourceId`, recording the order they start in. */
function queue(slots: CopySlots, sourceId: string, n: number, started: string[]) {
  const gates = Array.from({ length: n }, () => gate());
  const runs = gates.map((g, i) =>
    slots.run(sourceId, async () => {
      started.push(`${sourceId}${i}`);
      await g.done;
    }),
  );
  return { gates, runs };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('copy slots', () => {
  it('lets a source alone use every slot', async () => {
    const slots = new CopySlots(4, 0.5);
    const started: string[] = [];
    const a = queue(slots, 'a', 6, started);
    await settle();
    expect(slots.holding('a')).toBe(4);
    for (const g of a.gates) g.open();
    await Promise.all(a.runs);
    expect(started).toHaveLength(6);
    expect(slots.holding('a')).toBe(0);
  });

  it("hands freed slots to a newcomer ahead of a big source's queued copies, up to its share", async () => {
    const slots = new CopySlots(4, 0.5);
    const started: string[] = [];
    const a = queue(slots, 'a', 100, started);
    await settle();
    const b = queue(slots, 'b', 3, started);
    await settle();
    // Every slot is A's: B waits for the next one to free.
    expect(started).toEqual(['a0', 'a1', 'a2', 'a3']);
    a.gates[0]!.open();
    a.gates[1]!.open();
    await settle();
    // Both freed slots went to B, not to A's 96 queued copies.
    expect(started.slice(4)).toEqual(['b0', 'b1']);
    expect(slots.holding('b')).toBe(2);
    // B holds its share (half of 4): the next slot goes to A, though B still waits.
    a.gates[2]!.open();
    await settle();
    expect(started.slice(6)).toEqual(['a4']);
    // Once A is down to its share too, B's last copy is next.
    b.gates[0]!.open();
    await settle();
    expect(started.slice(7)).toEqual(['b2']);
    for (const g of [...a.gates, ...b.gates]) g.open();
    await Promise.all([...a.runs, ...b.runs]);
    expect(started).toHaveLength(103);
  });

  it('serves waiting sources in turn and releases a slot when a copy fails', async () => {
    const slots = new CopySlots(2, 1);
    const started: string[] = [];
    const a = queue(slots, 'a', 2, started);
    await settle();
    const b = queue(slots, 'b', 2, started);
    const c = queue(slots, 'c', 2, started);
    const failing = slots
      .run('a', () => Promise.reject(new Error('copy failed')))
      .then(
        () => 'copied',
        (err: Error) => err.message,
      );
    await settle();
    a.gates[0]!.open();
    a.gates[1]!.open();
    await settle();
    // B and C came before A's third copy, and each gets a turn before either gets a second.
    expect(started).toEqual(['a0', 'a1', 'b0', 'c0']);
    b.gates[0]!.open();
    await settle();
    expect(await failing).toBe('copy failed');
    await settle();
    // A's failed copy gave its slot back: the turn then passed on to B.
    expect(started).toEqual(['a0', 'a1', 'b0', 'c0', 'b1']);
    for (const g of [...b.gates, ...c.gates]) g.open();
    await Promise.all([...a.runs, ...b.runs, ...c.runs]);
    expect(started).toHaveLength(6);
    expect([slots.holding('a'), slots.holding('b'), slots.holding('c')]).toEqual([0, 0, 0]);
  });
});
