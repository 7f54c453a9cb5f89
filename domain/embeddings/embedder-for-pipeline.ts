/**
 * The embedder for a stored embedding pipeline, as the worker (chunks) and
 * the API (queries) both build it: the pipeline's sealed API key opened only
 * here, in memory, and connections through the egress policy.
 */
import type { Sql } from 'postgres';
import { egressPool } from '../../activities/net/egress-pool.js';
import { nextRateTurn, takeRateTurn } from '../../catalog/rate-turns.js';
import type { EgressPolicy } from '../egress-policy.js';
import type { SecretBox } from '../secrets.js';
import type { EmbeddingConfig } from './config.js';
import type { OpenAiContext, RateTurns } from './openai.js';
import { embedderFor, type Embedder } from './providers.js';

interface PipelineEmbedding {
  pipelineId: string;
  config: EmbeddingConfig;
  sealedSecret: string | null;
}

export function pipelineEmbedder(
  p: PipelineEmbedding,
  deps: { secrets: SecretBox; egress: EgressPolicy; db: { $client: Sql } },
  calls: Pick<OpenAiContext, 'onRetry' | 'signal' | 'tries' | 'deadline'> = {},
): Promise<Embedder> {
  const apiKey = p.sealedSecret ? deps.secrets.open<string>(p.sealedSecret) : null;
  const perMinute = p.config.provider === 'openai-compatible' ? p.config.requestsPerMinute : undefined;
  const sql = deps.db.$client;
  const turns: RateTurns | undefined =
    perMinute === undefined
      ? undefined
      : { next: () => nextRateTurn(sql, p.pipelineId), take: async () => (await takeRateTurn(sql, p.pipelineId, 60_000 / perMinute)).waitMs };
  return embedderFor(p.config, { pipelineId: p.pipelineId, apiKey, dispatcher: egressPool(deps.egress), ...calls, ...(turns ? { turns } : {}) });
}
