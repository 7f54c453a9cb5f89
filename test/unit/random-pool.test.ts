/**
 * The pooled random bytes ids draw from (domain/random-pool.ts): slices stay as they were handed out across
 * refills, bytes are spread evenly, and ids made from them stay unique and sortable.
 */
import { describe, expect, it } from 'vitest';
import { pooledRandom, randomHex } from '../../domain/random-pool.js';
import { newId } from '../../domain/ids.js';

describe('pooled random bytes', () => {
  it('hands out slices that a later refill leaves alone', () => {
    const first = pooledRandom(16);
    const copy = Buffer.from(first);
    // Well past one 4 KiB pool: several refills.
    for (let i = 0; i < 1000; i++) pooledRandom(40);
    expect(first.equals(copy)).toBe(true);
    expect(pooledRandom(10_000)).toHaveLength(10_000);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('spreads bytes evenly and never repeats a 16-byte draw', () => {
    const counts = new Array<number>(256).fill(0);
    const seen = new Set<string>();
    for (let i = 0; i < 4096; i++) {
      const b = pooledRandom(16);
      seen.add(b.toString('hex'));
      for (const x of b) counts[x]!++;
    }
    expect(seen.size).toBe(4096);
    // 65,536 bytes, 256 expected per value: a stuck or biased source falls far outside these bounds.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(370);
  });

  it('makes unique ids that sort in the order they were made', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('sobj'));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^sobj_[0-9a-hjkmnp-tv-z]{26}$/);
  });
});
