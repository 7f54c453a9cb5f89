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

/** Chunks kept per object: small chunks over a large object would otherwise mean millions of rows. */
export const MAX_CHUNKS = 10_000;
/**
 * How long one object's embedding may take before it fails for good: its
 * activity (a batch of objects) has 6 hours, and unbounded retries of a slow
 * server must not spend them on one object.
 */
export const OBJECT_BUDGET_MS = 60 * 60_000;
/** Inputs × dimensions per request: an answer of floats as text stays within the 64 MiB a provider answer may take. */
const MAX_BATCH_FLOATS = 2 * 1024 * 1024;
const MAX_DIMENSIONS = 8192;

const parsedUrl = (u: string): URL | null => {
  try {
    return new URL(u);
  } catch {
    return null;
  }
};

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
    /** Inputs per request; 32 is text-embeddings-inference's default limit. A server answering 413 gets halves. */
    batchSize: z.number().int().min(1).max(2048).default(32),
    /** Requests per minute this pipeline sends from one worker (or one API process), shared by all its activities there. */
    requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
    ...common,
  })
  .strict();

/**
 * What the edge checks of new settings (a create, a PATCH's merged result)
 * beyond their shape, so settings stored before these checks still load:
 * the address parsed as fetch parses it (`https:///a:b@host` carries
 * credentials a pattern on the text misses; `/embeddings` is appended to the
 * path, so a query or fragment would build a wrong address); answers too
 * large to hold; an object of MAX_CHUNKS chunks that the rate limit alone
 * keeps past half its budget.
 */
function checkOpenAiSettings(
  c: { baseUrl: string; batchSize: number; dimensions?: number | undefined; requestsPerMinute?: number | undefined },
  ctx: z.RefinementCtx,
): void {
  const url = parsedUrl(c.baseUrl);
  if (url && (url.username !== '' || url.password !== ''))
    ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'must not carry credentials (send apiKey)' });
  if (/[?#]/.test(c.baseUrl)) ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'must not have a query or fragment' });
  if (c.batchSize * (c.dimensions ?? MAX_DIMENSIONS) > MAX_BATCH_FLOATS)
    ctx.addIssue({
      code: 'custom',
      path: ['batchSize'],
      message: `times dimensions (${c.dimensions ?? `${MAX_DIMENSIONS} when not set`}) must be at most ${MAX_BATCH_FLOATS}`,
    });
  if (c.requestsPerMinute !== undefined) {
    const minutes = Math.ceil(MAX_CHUNKS / c.batchSize) / c.requestsPerMinute;
    if (minutes * 60_000 > OBJECT_BUDGET_MS / 2)
      ctx.addIssue({
        code: 'custom',
        path: ['requestsPerMinute'],
        message: `is too low for batchSize ${c.batchSize}: an object of ${MAX_CHUNKS} chunks would take ${Math.ceil(minutes)} minutes, more than ${OBJECT_BUDGET_MS / 120_000}`,
      });
  }
}

/** A PATCH's merged settings, checked as a create's are. */
export const OpenAiEdgeCheck = z.custom<OpenAiEmbeddingConfig>().superRefine(checkOpenAiSettings);

/** The API key a create or PATCH body may carry for an `openai-compatible` pipeline: write-only, sealed like source credentials. */
export const EmbeddingApiKey = text()
  .min(1)
  .max(4096)
  // Sent in a header: fetch throws on anything else, which would look like an unreachable server.
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters only');

/** `provider` may be left out: it is `local`. */
const defaultProvider = (v: unknown): unknown =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !('provider' in v) ? { ...v, provider: 'local' } : v;

export const EmbeddingConfigSchema = z.preprocess(defaultProvider, z.discriminatedUnion('provider', [LocalSettings, OpenAiSettings]));

/** A create body's settings: the stored ones, plus the API key for `openai-compatible`. */
export const EmbeddingCreateInput = z.preprocess(
  defaultProvider,
  z.discriminatedUnion('provider', [LocalSettings, OpenAiSettings.extend({ apiKey: EmbeddingApiKey.optional() }).strict().superRefine(checkOpenAiSettings)]),
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
