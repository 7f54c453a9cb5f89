/**
 * `npm run bench -- --vector`: the local embedding model's throughput
 * (chunks/s, one core) and search latency of both vector indexes over
 * `--chunks` stored chunks (100 000 by default), in a Postgres with pgvector
 * of its own (infra/pgvector-postgres.ts): the same data, the same server,
 * `exact` and `hnsw` asked the same queries, with the CPU the searching
 * process spent (wall time on a shared machine is mostly waiting) and how
 * many of the exact top 10 the HNSW index found.
 *
 * The chunks are synthetic: texts assembled from the generated topic corpus
 * (seven short documents each, about 1000 characters), embedded by the local
 * model and written straight into the catalog, ten per object (no sync).
 */
import { join } from 'node:path';
import postgres from 'postgres';
import { chooseVectorIndex, VECTOR_INDEXES } from '../catalog/vector-index.js';
import type { VectorHit } from '../catalog/vector-query.js';
import { runMigrations } from '../db/migrate.js';
import { EmbeddingConfigSchema, embeddingSignature } from '../domain/embeddings/config.js';
import type { VectorIndexKind } from '../domain/embeddings/kinds.js';
import { LOCAL_MODEL_DIMENSIONS, localEmbedder } from '../domain/embeddings/providers.js';
import { ensureDatabase } from '../infra/postgres-server.js';
import { installPgvectorPostgres, startPgvectorPostgres } from '../infra/pgvector-postgres.js';
import { TOPICS, topicCorpus } from '../test/support/topic-corpus.js';
import { seedVectorBucket } from '../test/support/vector-seed.js';

const CHUNKS_PER_OBJECT = 10;
const DOCS_PER_CHUNK = 7;
const SEARCHES = 100;
const TOP = 10;

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Timing {
  wall: number[];
  cpu: number[];
}

export async function vectorBench(o: {
  scratch: string;
  chunks: number;
  cacheDir: string;
  log: (m: string) => void;
  cleanups: (() => Promise<unknown>)[];
}): Promise<void> {
  const config = EmbeddingConfigSchema.parse({});
  const started = performance.now();
  const embedder = await localEmbedder('glove-6b-100d');
  o.log(`local model loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // Chunks of about 1000 characters (the default chunk size): seven short documents of one topic each.
  const docs = [...topicCorpus(Math.ceil(o.chunks / TOPICS.length)).values()];
  const texts = Array.from({ length: o.chunks }, (_, i) =>
    Array.from({ length: DOCS_PER_CHUNK }, (_, k) => docs[(i + k * TOPICS.length) % docs.length]).join(' '),
  );
  const t0 = performance.now();
  const vectors = await embedder.embed(texts);
  const embedSeconds = (performance.now() - t0) / 1000;

  const pgDir = await installPgvectorPostgres({ cacheDir: o.cacheDir, log: o.log });
  const pg = await startPgvectorPostgres({ pgDir, dataDir: join(o.scratch, 'postgres'), log: o.log });
  o.cleanups.push(() => pg.stop());
  await ensureDatabase(pg.url, 'bench');
  const url = pg.urlFor('bench');
  await runMigrations(url);
  const sql = postgres(url, { max: 2, onnotice: () => undefined });
  o.cleanups.push(() => sql.end());
  const s0 = performance.now();
  const objects = await seedVectorBucket(
    sql,
    config,
    texts.map((text, i) => ({ text, start: 0, end: text.length, vector: vectors[i]! })),
    CHUNKS_PER_OBJECT,
  );
  o.log(`${texts.length} chunks of ${objects} objects stored in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  // Set up after the chunks are in: the vectors are mirrored in one statement and the HNSW index is built over all of them.
  const b0 = performance.now();
  const kind = await chooseVectorIndex(sql, 'hnsw', [LOCAL_MODEL_DIMENSIONS['glove-6b-100d']], { info: (_o, m) => o.log(m) });
  const buildSeconds = (performance.now() - b0) / 1000;
  await sql`analyze`;

  const queries = TOPICS.flatMap((t) => t.queries);
  const signature = embeddingSignature(config);
  // Unfiltered, and under a prefix that about 11 % of the objects have (doc-1, doc-1x, doc-1xx, …): HNSW then filters as it scans.
  const runs = [
    { filter: 'none', prefix: '' },
    {
      filter: `prefix doc-1 (${Math.round((100 * Array.from({ length: objects }, (_, i) => `doc-${i}`).filter((k) => k.startsWith('doc-1')).length) / objects)} % of objects)`,
      prefix: 'doc-1',
    },
  ];
  const rows: Record<string, string | number>[] = [];
  const recall: string[] = [];
  for (const run of runs) {
    const timings: Record<VectorIndexKind, Timing> = { exact: { wall: [], cpu: [] }, hnsw: { wall: [], cpu: [] } };
    let found = 0;
    const search = async (index: VectorIndexKind, vector: Float32Array): Promise<VectorHit[]> => {
      const q0 = performance.now();
      const c0 = process.cpuUsage();
      const hits = await VECTOR_INDEXES[index].nearest(sql, {
        bucketId: 'b1',
        pipelines: [{ id: 'p1', signature, vector }],
        prefix: run.prefix,
        sourceIds: null,
        mimeTypes: null,
        minScore: -1,
        offset: 0,
        limit: TOP,
      });
      timings[index].wall.push(performance.now() - q0);
      const used = process.cpuUsage(c0);
      timings[index].cpu.push((used.user + used.system) / 1000);
      if (hits.length !== TOP) throw new Error(`${index} search found ${hits.length} objects`);
      return hits;
    };
    for (let i = 0; i < SEARCHES; i++) {
      const [vector] = await embedder.embed([queries[i % queries.length]!]);
      const exact = new Set((await search('exact', vector!)).map((h) => h.key));
      found += (await search(kind, vector!)).filter((h) => exact.has(h.key)).length;
    }
    for (const index of ['exact', 'hnsw'] as const) {
      const wall = [...timings[index].wall].sort((a, b) => a - b);
      const cpu = [...timings[index].cpu].sort((a, b) => a - b);
      rows.push({
        index,
        filter: run.filter,
        'search p50 ms': percentile(wall, 50).toFixed(1),
        'search p99 ms': percentile(wall, 99).toFixed(1),
        'API CPU ms per search (p50)': percentile(cpu, 50).toFixed(1),
      });
    }
    recall.push(`${run.filter}: ${((100 * found) / (SEARCHES * TOP)).toFixed(1)} %`);
  }
  console.log(
    `\nsynthetic chunks: ${texts.length} (${objects} objects, mean ${Math.round(texts.reduce((n, t) => n + t.length, 0) / texts.length)} characters), ` +
      `embedded by the local model at ${Math.round(texts.length / embedSeconds)} chunks/s (one core); ` +
      `pgvector setup (mirror + HNSW build) ${buildSeconds.toFixed(1)} s; ${SEARCHES} searches per row, top ${TOP}; ` +
      `HNSW found of the exact top ${TOP}: ${recall.join(', ')}`,
  );
  console.table(rows);
}
