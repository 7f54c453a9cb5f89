import { monotonicFactory } from 'ulid';
import { pooledRandom } from './random-pool.js';

// ulid's own source asks the OS for one byte per character; a byte from the pool over 256 is as uniform
// for its 32-letter alphabet (256 is a multiple of 32).
const next = monotonicFactory(() => pooledRandom(1)[0]! / 256);

/** Opaque, sortable ids with a readable kind prefix, as K3 uses (`src_…`, `job_…`). */
export const newId = (prefix: 'bkt' | 'src' | 'job' | 'sobj' | 'sync' | 'file' | 'pipe' | 'rule'): string => `${prefix}_${next().toLowerCase()}`;
