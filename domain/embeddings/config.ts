/**
 * The embedding pipeline's settings: what text it reads, how it cuts the text
 * into chunks, and which provider and model embed them.
 */
import { z } from 'zod';
import { EMBEDDING_PROVIDER_NAMES, LOCAL_MODELS } from './kinds.js';

export const ChunkingSchema = z
  .object({
    /** `characters`, or `tokens`: the provider's words (letters and digits; what separates them is not counted). */
    unit: z.enum(['characters', 'tokens']).default('characters'),
    size: z.number().int().min(4).max(8192).default(1000),
    /** How much of the end of one chunk the next one repeats, so a sentence cut in two is whole in one of them. */
    overlap: z.number().int().min(0).max(4096).default(100),
  })
  .strict()
  .refine((c) => c.overlap < c.size, { path: ['overlap'], message: 'must be less than size' });

export const EmbeddingConfigSchema = z
  .object({
    /** Bytes of each object read for embedding; longer objects are embedded up to this much. */
    maxBytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .default(1024 * 1024),
    provider: z.enum(EMBEDDING_PROVIDER_NAMES).default('local'),
    model: z.enum(LOCAL_MODELS).default('glove-6b-100d'),
    chunking: ChunkingSchema.default({ unit: 'characters', size: 1000, overlap: 100 }),
  })
  .strict();

export type EmbeddingConfig = z.infer<typeof EmbeddingConfigSchema>;
export type Chunking = z.infer<typeof ChunkingSchema>;

/**
 * What an object's vectors depend on besides its content: chunks embedded
 * under another signature are redone, those under this one are kept.
 */
export function embeddingSignature(c: EmbeddingConfig): string {
  return JSON.stringify([c.provider, c.model, c.maxBytes, c.chunking.unit, c.chunking.size, c.chunking.overlap]);
}
