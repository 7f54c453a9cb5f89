import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/seed.js';

const draws = (seed: string | undefined) => {
  const r = seededRandom('seed.test.ts', seed);
  return { seed: r.seed, ints: Array.from({ length: 20 }, () => r.int(300, 1000)) };
};

describe('seeded test randomness', () => {
  it('replays the same sequence from the same seed, and another from another', () => {
    const a = draws('12345');
    expect(a.seed).toBe('12345');
    expect(draws('12345')).toEqual(a);
    expect(draws('12346').ints).not.toEqual(a.ints);
    for (const n of a.ints) {
      expect(Number.isInteger(n)).toBe(true);
      expect(n).toBeGreaterThanOrEqual(300);
      expect(n).toBeLessThan(1000);
    }
    expect(new Set(a.ints).size).toBeGreaterThan(10);
  });

  it('picks and reports a seed when none is given, which then replays its draws', () => {
    const picked = draws(undefined);
    expect(picked.seed).toMatch(/^\d+$/);
    expect(draws(picked.seed)).toEqual(picked);
  });
});
