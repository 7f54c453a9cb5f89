/**
 * The embedding pipeline's settings: what text it reads, how it cuts the text
 * into chunks, and which provider and model embed them. Each provider has its
 * own settings (a discriminated union on `provider`, `local` when omitted).
 */
import { z } from 'zod';
import { text } from '../text.js';
import { LOCAL_MODELS, type EmbeddingProviderKind } from './kinds.js';

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

/** Settings every provider has. */
const common = {
  /** Bytes of each object read for embedding; longer objects are embedded up to this much. */
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
  chunking: ChunkingSchema.default({ unit: 'characters', size: 1000, overlap: 100 }),
};

const LocalSettings = z
  .object({
    provider: z.literal('local'),
    model: z.enum(LOCAL_MODELS).default('glove-6b-100d'),
    ...common,
  })
  .strict();

export const EmbeddingBaseUrl = text()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
  .refine((u) => !/^https?:\/\/[^/]*@/i.test(u), 'must not carry credentials (send apiKey)');

const OpenAiSettings = z
  .object({
    provider: z.literal('openai-compatible'),
    /** The API root the server's `/embeddings` hangs off, e.g. `https://api.openai.com/v1` or `http://ollama:11434/v1`. */
    baseUrl: EmbeddingBaseUrl,
    model: text().min(1).max(256),
    /** Asked of the server (models that can shorten their vectors) and checked against every vector it returns. */
    dimensions: z.number().int().min(1).max(8192).optional(),
    /** Inputs per request. */
    batchSize: z.number().int().min(1).max(2048).default(64),
    /** Requests per minute this pipeline sends from one worker (or one API process), shared by all its activities there. */
    requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
    ...common,
  })
  .strict();

/** The API key a create or PATCH body may carry for an `openai-compatible` pipeline: write-only, sealed like source credentials. */
export const EmbeddingApiKey = text().min(1).max(4096);

/** `provider` may be left out: it is `local`. */
const defaultProvider = (v: unknown): unknown =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !('provider' in v) ? { ...v, provider: 'local' } : v;

export const EmbeddingConfigSchema = z.preprocess(defaultProvider, z.discriminatedUnion('provider', [LocalSettings, OpenAiSettings]));

/** A create body's settings: the stored ones, plus the API key for `openai-compatible`. */
export const EmbeddingCreateInput = z.preprocess(
  defaultProvider,
  z.discriminatedUnion('provider', [LocalSettings, OpenAiSettings.extend({ apiKey: EmbeddingApiKey.optional() }).strict()]),
);

/** The settings as the API shows them: the key never, only whether one is set. */
export const EmbeddingView = z.discriminatedUnion('provider', [LocalSettings, OpenAiSettings.extend({ apiKeySet: z.boolean() }).strict()]);

/**
 * A PATCH body's settings: any of either provider's fields, without defaults;
 * the merged result is checked against the provider's own schema.
 */
export const EmbeddingPatchInput = z
  .object({
    provider: z.enum(['local', 'openai-compatible'] satisfies EmbeddingProviderKind[]).optional(),
    model: text().min(1).max(256).optional(),
    baseUrl: EmbeddingBaseUrl.optional(),
    dimensions: z.number().int().min(1).max(8192).optional(),
    batchSize: z.number().int().min(1).max(2048).optional(),
    requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
    apiKey: EmbeddingApiKey.optional(),
    maxBytes: common.maxBytes.unwrap().optional(),
    chunking: ChunkingSchema.optional(),
  })
  .strict();

export type EmbeddingConfig = z.infer<typeof EmbeddingConfigSchema>;
export type OpenAiEmbeddingConfig = Extract<EmbeddingConfig, { provider: 'openai-compatible' }>;
export type Chunking = z.infer<typeof ChunkingSchema>;

/**
 * What an object's vectors depend on besides its content: chunks embedded
 * under another signature are redone, those under this one are kept. For a
 * server, its address, the model and the dimensions asked for; not the batch
 * size, the rate or the key, which change how vectors are fetched, not what they are.
 */
export function embeddingSignature(c: EmbeddingConfig): string {
  const chunking = [c.maxBytes, c.chunking.unit, c.chunking.size, c.chunking.overlap];
  switch (c.provider) {
    case 'local':
      // Unchanged from before there were other providers, so existing chunks stay current.
      return JSON.stringify([c.provider, c.model, ...chunking]);
    case 'openai-compatible':
      return JSON.stringify([c.provider, c.model, ...chunking, c.baseUrl, c.dimensions ?? null]);
  }
}
