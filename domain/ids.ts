import { monotonicFactory } from 'ulid';

const next = monotonicFactory();

/** Opaque, sortable ids with a readable kind prefix, as K3 uses (`src_…`, `job_…`). */
export const newId = (prefix: 'bkt' | 'src' | 'job' | 'sobj' | 'sync' | 'file' | 'pipe' | 'rule'): string => `${prefix}_${next().toLowerCase()}`;
