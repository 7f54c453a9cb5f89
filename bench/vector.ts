/**
 * `npm run bench -- --vector`: the local embedding model's throughput
 * (chunks/s, one core) and the exact-scan index's search latency over
 * `--chunks` stored chunks, in an embedded Postgres of its own, with the CPU
 * the searching process spent (wall time on a shared machine is mostly waiting).
 */
import { join } from 'node:path';
import postgres from 'postgres';
import { VECTOR_INDEXES } from '../catalog/vector-index.js';
import { runMigrations } from '../db/migrate.js';
import { EmbeddingConfigSchema, embeddingSignature } from '../domain/embeddings/config.js';
import { localEmbedder } from '../domain/embeddings/providers.js';
import { ensureDatabase, startEmbeddedPostgres } from '../infra/postgres-server.js';
import { TOPICS, topicCorpus } from '../test/support/topic-corpus.js';
import { seedVectorBucket } from '../test/support/vector-seed.js';

const CHUNKS_PER_OBJECT = 10;
const DOCS_PER_CHUNK = 7;
const SEARCHES = 100;

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function vectorBench(o: { scratch: string; chunks: number; log: (m: string) => void; cleanups: (() => Promise<unknown>)[] }): Promise<void> {
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

  const pg = await startEmbeddedPostgres({ dataDir: join(o.scratch, 'postgres'), persistent: false, log: o.log });
  o.cleanups.push(() => pg.stop());
  await ensureDatabase(pg.url, 'bench');
  const url = pg.urlFor('bench');
  await runMigrations(url);
  const sql = postgres(url, { max: 2, onnotice: () => undefined });
  o.cleanups.push(() => sql.end());
  const objects = await seedVectorBucket(
    sql,
    config,
    texts.map((text, i) => ({ text, start: 0, end: text.length, vector: vectors[i]! })),
    CHUNKS_PER_OBJECT,
  );

  const queries = TOPICS.flatMap((t) => t.queries);
  const latencies: number[] = [];
  // CPU this process spent per search (reading and scoring the rows): on a busy machine the wall time mostly waits for a core.
  const cpu: number[] = [];
  for (let i = 0; i < SEARCHES; i++) {
    const [vector] = await embedder.embed([queries[i % queries.length]!]);
    const q0 = performance.now();
    const c0 = process.cpuUsage();
    const hits = await VECTOR_INDEXES.exact.nearest(sql, {
      bucketId: 'b1',
      pipelines: [{ id: 'p1', signature: embeddingSignature(config), vector: vector! }],
      prefix: '',
      sourceIds: null,
      mimeTypes: null,
      minScore: -1,
      offset: 0,
      limit: 10,
    });
    latencies.push(performance.now() - q0);
    const used = process.cpuUsage(c0);
    cpu.push((used.user + used.system) / 1000);
    if (hits.length !== Math.min(10, objects)) throw new Error(`search found ${hits.length} objects`);
  }
  latencies.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.table([
    {
      chunks: texts.length,
      'mean chunk chars': Math.round(texts.reduce((n, t) => n + t.length, 0) / texts.length),
      'embed chunks/s': Math.round(texts.length / embedSeconds),
      'exact search p50 ms': percentile(latencies, 50).toFixed(1),
      'exact search p99 ms': percentile(latencies, 99).toFixed(1),
      'API CPU ms per search (p50)': percentile(cpu, 50).toFixed(1),
    },
  ]);
}
