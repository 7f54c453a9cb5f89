import { z } from 'zod';
import { VECTOR_INDEX_NAMES } from '../../domain/embeddings/kinds.js';

/** `ok`, or why Postgres or Temporal did not answer; and the vector index searches use. */
export const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  postgres: z.string(),
  temporal: z.string(),
  vectorIndex: z.enum(VECTOR_INDEX_NAMES),
});
