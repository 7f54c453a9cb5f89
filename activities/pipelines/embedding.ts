import { alreadyEmbedded, removeEmbeddingChunks, replaceEmbeddingChunks } from '../../catalog/index.js';
import { chunkText } from '../../domain/embeddings/chunking.js';
import { embeddingSignature, MAX_CHUNKS, OBJECT_BUDGET_MS, type EmbeddingConfig } from '../../domain/embeddings/config.js';
import { EmbeddingDeadline, EmbeddingRefused } from '../../domain/embeddings/openai.js';
import { Context } from '@temporalio/activity';
import { pipelineEmbedder } from '../../domain/embeddings/embedder-for-pipeline.js';
import { RUN_STATUS } from '../../domain/statuses.js';
import type { ActivityDeps } from '../deps.js';
import { readStoredText } from './stored-text.js';
import type { PipelineOutcome, StoredObject } from './types.js';

/**
 * Extracts an object's text as the fulltext pipeline does, cuts it into
 * chunks and stores each chunk's vector. Content and settings it has already
 * embedded are not embedded again; a re-run replaces the object's chunks whole.
 */
export async function runEmbedding(
  deps: ActivityDeps,
  pipelineId: string,
  config: EmbeddingConfig,
  sealedSecret: string | null,
  obj: StoredObject,
  /** When the object's budget (OBJECT_BUDGET_MS, counted from its first try) runs out. */
  deadline: number,
): Promise<Omit<PipelineOutcome, 'attempts'>> {
  const sql = deps.db.$client;
  const owner = { objectId: obj.id, pipelineId, bucketId: obj.bucketId, lakeKey: obj.lakeKey, etag: obj.etag, signature: embeddingSignature(config) };
  if (await alreadyEmbedded(sql, owner)) return { status: RUN_STATUS.indexed, detail: 'already embedded: same content and settings' };
  const read = await readStoredText(deps, obj, config.maxBytes, () => removeEmbeddingChunks(sql, obj.id, pipelineId));
  if ('skip' in read) return read.skip;
  const { format, truncated } = read;
  const text = read.text.replace(/\0/g, '');
  const activity = Context.current();
  const embedder = await pipelineEmbedder({ pipelineId, config, sealedSecret }, deps, {
    onRetry: (retry) => activity.log.warn('embedding request will be retried', { ...retry, objectId: obj.id }),
    signal: activity.cancellationSignal,
    deadline,
  });
  // Stops at MAX_CHUNKS while cutting: a 16 MiB text with a one-character step must not build millions first.
  const { chunks, truncated: cut } = chunkText(text, config.chunking, embedder.tokens, MAX_CHUNKS);
  const vectors = await embedder.embed(chunks.map((c) => c.text)).catch((err: unknown) => {
    // Out of time: trying again would spend the batch's hours on this one object.
    throw err instanceof EmbeddingDeadline
      ? new EmbeddingRefused(`embedding took longer than the ${OBJECT_BUDGET_MS / 60_000} minutes an object may take: ${err.message}`)
      : err;
  });
  await replaceEmbeddingChunks(
    sql,
    owner,
    chunks.map((c, i) => ({ ...c, vector: vectors[i]! })),
  );
  return {
    status: RUN_STATUS.indexed,
    detail:
      `${format}: ${chunks.length} chunks of ${text.length} characters by ${embedder.model}` +
      (truncated ? `, first ${config.maxBytes} bytes of ${obj.size}` : '') +
      (cut ? `; the first ${MAX_CHUNKS} chunks` : ''),
  };
}
