import { z } from 'zod';

/** `ok`, or why Postgres or Temporal did not answer. */
export const Health = z.object({ status: z.enum(['ok', 'unavailable']), postgres: z.string(), temporal: z.string() });
