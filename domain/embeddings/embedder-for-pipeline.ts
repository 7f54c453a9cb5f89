/**
 * The embedder for a stored embedding pipeline, as the worker (chunks) and
 * the API (queries) both build it: the pipeline's sealed API key opened only
 * here, in memory, and connections through the egress policy.
 */
import { egressPool } from '../../activities/net/egress-pool.js';
import type { EgressPolicy } from '../egress-policy.js';
import type { SecretBox } from '../secrets.js';
import type { EmbeddingConfig } from './config.js';
import type { OpenAiContext } from './openai.js';
import { embedderFor, type Embedder } from './providers.js';

interface PipelineEmbedding {
  pipelineId: string;
  config: EmbeddingConfig;
  sealedSecret: string | null;
}

export function pipelineEmbedder(
  p: PipelineEmbedding,
  deps: { secrets: SecretBox; egress: EgressPolicy },
  calls: Pick<OpenAiContext, 'onRetry' | 'signal' | 'tries' | 'deadline'> = {},
): Promise<Embedder> {
  const apiKey = p.sealedSecret ? deps.secrets.open<string>(p.sealedSecret) : null;
  return embedderFor(p.config, { pipelineId: p.pipelineId, apiKey, dispatcher: egressPool(deps.egress), ...calls });
}
