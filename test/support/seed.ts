import { createHash, randomInt } from 'node:crypto';
import { loadEnv } from '../../config/env.js';

export interface SeededRandom {
  seed: string;
  /** The next integer in [min, max) of this seed's sequence. */
  int(min: number, max: number): number;
}

/**
 * Random choices a failing run can replay: the seed comes from
 * LAKESYNC_TEST_SEED, else is picked here, and is printed either way. Each
 * draw hashes the seed with its position, so the same seed gives the same
 * sequence.
 */
export function seededRandom(label: string, given = loadEnv().LAKESYNC_TEST_SEED): SeededRandom {
  const seed = given ?? String(randomInt(2 ** 47));
  console.log(`[${label}] random choices from LAKESYNC_TEST_SEED=${seed} (set it to replay them)`);
  let draws = 0;
  return {
    seed,
    int: (min, max) => min + (createHash('sha256').update(`${seed}:${draws++}`).digest().readUIntBE(0, 6) % (max - min)),
  };
}
