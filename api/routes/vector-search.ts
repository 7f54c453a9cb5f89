/**
 * POST /:bucket/vector/search (and its alias /:bucket/search/vector): the
 * objects whose chunks are nearest the query, among what the bucket's
 * embedding pipelines stored; with `hybrid`, that ranking fused with the
 * keyword ranking of its fulltext pipelines.
 */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Sql, TransactionSql } from 'postgres';
import { VECTOR_INDEXES, type VectorHit } from '../../catalog/vector-index.js';
import { EmbeddingConfigSchema, embeddingSignature } from '../../domain/embeddings/config.js';
import { pipelineEmbedder } from '../../domain/embeddings/embedder-for-pipeline.js';
import { EmbeddingDeadline, EmbeddingRefused } from '../../domain/embeddings/openai.js';
import { errorMessage } from '../../domain/error-text.js';
import type { PipelineConfig } from '../../domain/pipeline-kinds.js';
import { callerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import type { SearchSlots } from '../search-slots.js';
import { parseBody } from '../validate.js';
import { findBucket } from './lookup.js';
import { search as keywordSearch } from './search.js';
import { VectorSearchBody } from './vector-schemas.js';

/** Reciprocal rank fusion's k: ranks past the first few count for less, and no list dominates. */
const RRF_K = 60;
/** How deep each list is read when fusing. */
const FUSION_DEPTH = 200;

interface Ranked extends VectorHit {
  fused: number;
}

export function vectorSearchHandler(deps: ApiDeps, slots: SearchSlots) {
  return async (req: Request<{ bucket: string }>, res: Response): Promise<void> => {
    const org = callerOf(res).org;
    const body = parseBody(VectorSearchBody, req);
    const bucket = await findBucket(deps, req.params.bucket, org);
    const sql = deps.db.$client;
    const filters = [body.query, body.prefix, body.pipelineId ?? null, body.sourceIds ?? null, body.mimeTypes ?? null, body.minScore, body.hybrid];
    // A token is only good for the query and filters it came from.
    const scope = `vector:${bucket.id}:${createHash('sha256').update(JSON.stringify(filters)).digest('base64url')}`;
    const offset = Number(deps.pageTokens.decode(scope, body.page_token) ?? 0);

    const rows = await sql<{ id: string; config: PipelineConfig; sealed_secret: string | null }[]>`
      select id, config, sealed_secret from pipelines
      where bucket_id = ${bucket.id} and kind = 'embedding' and enabled
        and (${body.pipelineId ?? null}::text is null or id = ${body.pipelineId ?? null})`;
    if (body.pipelineId && rows.length === 0) throw ApiError.invalid('pipelineId', `is not an enabled embedding pipeline of bucket ${bucket.name}`);
    if (rows.length === 0) return void res.json({ query: body.query, results: [], nextPageToken: '' });
    // The query is embedded within the search timeout, and no longer than the client waits.
    const gone = new AbortController();
    res.once('close', () => gone.abort(new Error('the client closed the connection')));
    const calls = { tries: 2, signal: gone.signal, deadline: Date.now() + slots.timeoutMs };
    // Each pipeline's model embeds the query: pipelines with different models are searched each with its own vector.
    const pipelines = await Promise.all(
      rows.map(async (p) => {
        const config = EmbeddingConfigSchema.parse((p.config as { embedding: unknown }).embedding);
        // Two sends at most: a busy server is answered with 503 and Retry-After rather than a search left waiting.
        const embedder = await pipelineEmbedder({ pipelineId: p.id, config, sealedSecret: p.sealed_secret }, deps, calls).catch((err: unknown) => {
          throw queryNotEmbedded(p.id, err);
        });
        const [vector] = await embedder.embed([body.query]).catch((err: unknown) => {
          throw queryNotEmbedded(p.id, err);
        });
        return { id: p.id, model: embedder.model, signature: embeddingSignature(config), vector: vector! };
      }),
    );

    const models = new Map(pipelines.map((p) => [p.id, p.model]));
    const index = VECTOR_INDEXES[deps.vectorIndex ?? 'exact'];
    const query = {
      bucketId: bucket.id,
      pipelines,
      prefix: body.prefix,
      sourceIds: body.sourceIds ?? null,
      mimeTypes: body.mimeTypes ?? null,
      minScore: body.minScore,
    };
    const page = await slots.run(org, res, () =>
      sql.begin(async (tx) => {
        await tx`select set_config('statement_timeout', ${String(slots.timeoutMs)}, true)`;
        if (!body.hybrid) {
          const hits = await index.nearest(tx, { ...query, offset, limit: body.topK + 1 });
          return withChunks(tx, hits);
        }
        const vector = await index.nearest(tx, { ...query, offset: 0, limit: Math.max(FUSION_DEPTH, offset + body.topK + 1) });
        const fused = await fuse(tx, bucket.id, body.query, body.prefix, vector);
        return withChunks(tx, fused.slice(offset, offset + body.topK + 1));
      }),
    );
    res.json({
      query: body.query,
      results: page.slice(0, body.topK).map(({ hit, chunk }) => ({
        key: hit.key,
        score: Number(hit.score.toFixed(6)),
        chunk,
        sourceId: hit.sourceId,
        pipelineId: hit.pipelineId,
        model: models.get(hit.pipelineId),
        etag: `"${hit.etag}"`,
      })),
      nextPageToken: page.length > body.topK ? deps.pageTokens.encode(scope, String(offset + body.topK)) : '',
    });
  };
}

/**
 * The query could not be embedded by the pipeline's provider: a refusal is
 * the pipeline's settings', anything else may pass (after the server's
 * Retry-After, or the rate limit's next turn, when known).
 */
function queryNotEmbedded(pipelineId: string, err: unknown): ApiError {
  const message = `the query could not be embedded for pipeline ${pipelineId}: ${errorMessage(err)}`;
  if (err instanceof EmbeddingRefused) return new ApiError('FAILED_PRECONDITION', message);
  const after = err instanceof EmbeddingDeadline && err.retryAfterMs !== null ? Math.max(1, Math.ceil(err.retryAfterMs / 1000)) : 5;
  return new ApiError('UNAVAILABLE', message, [], after);
}

/**
 * The vector ranking fused with the keyword ranking of the bucket's fulltext
 * pipelines: score = Σ 1 / (k + rank) over the lists an object is in. Objects
 * with no chunk among the vector ranking's are left out (there is no chunk to show).
 */
async function fuse(sql: Sql | TransactionSql, bucketId: string, query: string, prefix: string, vector: readonly VectorHit[]): Promise<Ranked[]> {
  const indexes = await sql<{ id: string; language: string }[]>`
    select id, config->'fulltext'->>'language' as language from pipelines where bucket_id = ${bucketId} and kind = 'fulltext' and enabled`;
  const keyword = indexes.length ? await keywordSearch(sql, bucketId, query, prefix, indexes, 0, FUSION_DEPTH) : [];
  const keywordRank = new Map(keyword.map((h, i) => [h.key, i + 1]));
  return vector
    .map((h, i) => {
      const k = keywordRank.get(h.key);
      return { ...h, fused: 1 / (RRF_K + i + 1) + (k === undefined ? 0 : 1 / (RRF_K + k)) };
    })
    .sort((a, b) => b.fused - a.fused || (a.key < b.key ? -1 : 1))
    .map((h) => ({ ...h, score: h.fused }));
}

/** Each hit's chunk, read only if it still belongs to the content that was scored. */
async function withChunks(
  sql: Sql | TransactionSql,
  hits: readonly VectorHit[],
): Promise<{ hit: VectorHit; chunk: { text: string; start: number; end: number } }[]> {
  if (hits.length === 0) return [];
  const rows = await sql<{ object_id: string; pipeline_id: string; seq: number; body: string; start_offset: number; end_offset: number }[]>`
    select c.object_id, c.pipeline_id, c.seq, c.body, c.start_offset, c.end_offset
    from embedding_chunks c
    join unnest(${hits.map((h) => h.objectId)}::text[], ${hits.map((h) => h.pipelineId)}::text[], ${hits.map((h) => h.seq)}::int[], ${hits.map((h) => h.etag)}::text[])
      as h(object_id, pipeline_id, seq, etag)
      on c.object_id = h.object_id and c.pipeline_id = h.pipeline_id and c.seq = h.seq and c.etag = h.etag`;
  const byHit = new Map(rows.map((r) => [`${r.object_id}\0${r.pipeline_id}\0${r.seq}`, r]));
  return hits.flatMap((hit) => {
    const r = byHit.get(`${hit.objectId}\0${hit.pipelineId}\0${hit.seq}`);
    return r ? [{ hit, chunk: { text: r.body, start: r.start_offset, end: r.end_offset } }] : [];
  });
}
