/**
 * The embedding provider registry: per provider kind, how to get an embedder
 * for a pipeline's settings. The worker embeds chunks with it and the API
 * embeds queries with the same one, so both sides agree on the vectors.
 */
import type { EmbeddingConfig } from './config.js';
import { embedText, GLOVE_DIMENSIONS, gloveVectors, wordsOf } from './glove.js';
import type { EmbeddingProviderKind, LocalModel } from './kinds.js';
import type { TokenSpan } from './chunking.js';
import { openAiEmbed, type OpenAiContext } from './openai.js';

export interface Embedder {
  /** Names provider and model, as results and statuses show them. */
  readonly model: string;
  /** Null where only the server's answers tell. */
  readonly dimensions: number | null;
  /** Unit-length vectors, one per text, in order; all zeros for a text with nothing the model knows. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** What the provider counts as a token, for chunking by tokens. */
  tokens(text: string): Iterable<TokenSpan>;
}

/** What a provider that calls out needs besides the settings: the pipeline, its opened key, a connection pool. */
export type EmbedderContext = OpenAiContext;

const LOCAL_MODELS: { [M in LocalModel]: () => Promise<Embedder> } = {
  'glove-6b-100d': async () => {
    const vectors = await gloveVectors();
    return {
      model: 'local/glove-6b-100d',
      dimensions: GLOVE_DIMENSIONS,
      embed: (texts) => Promise.resolve(texts.map((t) => embedText(vectors, t))),
      tokens: wordsOf,
    };
  },
};

/** The local provider's model, which needs nothing but its weights. */
export const localEmbedder = (model: LocalModel): Promise<Embedder> => LOCAL_MODELS[model]();

type ProviderSettings<K extends EmbeddingProviderKind> = Extract<EmbeddingConfig, { provider: K }>;

export const EMBEDDING_PROVIDERS: { [K in EmbeddingProviderKind]: (config: ProviderSettings<K>, ctx: EmbedderContext) => Promise<Embedder> } = {
  local: (config) => localEmbedder(config.model),
  'openai-compatible': (config, ctx) =>
    Promise.resolve({
      model: `openai-compatible/${config.model}`,
      dimensions: config.dimensions ?? null,
      embed: (texts) => openAiEmbed(config, ctx, texts),
      // The server's tokenizer is not known here: chunking by tokens counts words, as the local model does.
      tokens: wordsOf,
    }),
};

/** The local models' dimensions, known without loading them: the hnsw index builds one HNSW index per dimension at start. */
export const LOCAL_MODEL_DIMENSIONS: { [M in LocalModel]: number } = { 'glove-6b-100d': GLOVE_DIMENSIONS };

export function embedderFor(config: EmbeddingConfig, ctx: EmbedderContext): Promise<Embedder> {
  return (EMBEDDING_PROVIDERS[config.provider] as (c: EmbeddingConfig, x: EmbedderContext) => Promise<Embedder>)(config, ctx);
}
