import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids (row ids, request ids), drawn from a
 * buffer refilled 4 KiB at a time, as Node's randomUUID does: on this kind of
 * VM each getrandom call costs ~15 µs, and a ULID drew one per character.
 * Still the OS's CSPRNG; secrets and keys take randomBytes directly.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let taken = 0;

export function pooledRandom(n: number): Buffer {
  if (n > POOL_BYTES) return randomFillSync(Buffer.alloc(n));
  if (taken + n > pool.length) {
    // A fresh buffer, not a refill: slices handed out earlier keep their bytes.
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    taken = 0;
  }
  const out = pool.subarray(taken, taken + n);
  taken += n;
  return out;
}

/** `n` random bytes as hex. */
export const randomHex = (n: number): string => pooledRandom(n).toString('hex');
