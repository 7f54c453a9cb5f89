/**
 * The embedding pipeline and K3's vector search on the real services: the
 * local model finds documents by meaning over a 200-document corpus of known
 * topics, results follow changes and deletions, settings changes re-embed,
 * bad requests are refused naming the field, and tenants are kept apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { writeAll } from '../support/objects.js';
import { cliAgainst } from '../support/cli-run.js';
import { TOPICS, topicCorpus, topicOfKey, wordSet } from '../support/topic-corpus.js';

interface VectorResult {
  key: string;
  score: number;
  chunk: { text: string; start: number; end: number };
  sourceId: string;
  pipelineId: string;
  etag: string;
}

/** A search's answer, or the error a refused one gets. */
interface VectorAnswer {
  query: string;
  results: VectorResult[];
  nextPageToken: string;
  message: string;
  details: { field: string; problem: string }[];
}

const corpus = topicCorpus(20);

describe('embedding pipelines and vector search', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let dir: string;
  let bucket: string;
  let sourceId: string;
  let embeddingId: string;
  let fulltextId: string;
  let ruleId: string;

  const vsearch = (body: Record<string, unknown>, path = 'vector/search', headers?: Record<string, string>) =>
    call<VectorAnswer>(ls.url, 'POST', `/${bucket}/${path}`, body, headers);
  const keys = async (body: Record<string, unknown>) => {
    const res = await vsearch(body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.results.map((r) => r.key);
  };
  const sync = async () => {
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(started.status).toBe(200);
    return waitForJob(ls.url, bucket, sourceId, started.body.jobId);
  };
  const chunkCount = async (pipelineId: string) => Number((await sql`select count(*)::int as n from embedding_chunks where pipeline_id = ${pipelineId}`)[0]!.n);

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-vector-'));
    await writeAll(dir, new Map([...corpus].map(([k, v]) => [k, Buffer.from(v)])));
    await writeFile(join(dir, 'data.bin'), Buffer.from([0, 1, 2, 3, 0, 0, 0, 0xff]));
    bucket = unique('vec');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const embedding = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'meaning', kind: 'embedding' });
    expect(embedding.status).toBe(201);
    embeddingId = embedding.body.pipelineId;
    const fulltext = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'words', kind: 'fulltext' });
    fulltextId = fulltext.body.pipelineId;
    const rule = await call(ls.url, 'POST', `/${bucket}/rules`, {
      name: 'text',
      pipelineIds: [embeddingId, fulltextId],
      match: { includePatterns: ['*.txt'] },
    });
    expect(rule.status).toBe(201);
    ruleId = rule.body.ruleId;
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'docs', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 86400 });
    expect(src.status).toBe(201);
    sourceId = src.body.sourceId;
    const { job } = await sync();
    // data.bin is selected by no rule: processed, with nothing to fail.
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: 201, objectsProcessed: 201, objectsIndexed: 201 });
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows its settings, and /healthz names the exact-scan index', async () => {
    const p = await call(ls.url, 'GET', `/${bucket}/pipelines/${embeddingId}`);
    expect(p.body).toMatchObject({
      kind: 'embedding',
      embedding: { provider: 'local', model: 'glove-6b-100d', maxBytes: 1024 * 1024, chunking: { unit: 'characters', size: 1000, overlap: 100 } },
    });
    expect((await call(ls.url, 'GET', '/healthz')).body).toMatchObject({ status: 'ok', vectorIndex: 'exact' });
    const info = await call(ls.url, 'GET', `/${bucket}/objects/music%2Fdoc-000.txt/info`);
    expect(info.body.indexStatus[embeddingId]).toMatchObject({ kind: 'embedding', status: 'indexed', detail: expect.stringContaining('1 chunks') });
  });

  it('finds the right topic in the top 5 for at least 90 % of queries that share no word with any document', async () => {
    const corpusWords = new Set([...corpus.values()].flatMap((t) => [...wordSet(t)]));
    let right = 0;
    let total = 0;
    const misses: string[] = [];
    for (const topic of TOPICS)
      for (const query of topic.queries) {
        expect(
          [...wordSet(query)].filter((w) => corpusWords.has(w)),
          query,
        ).toEqual([]);
        total++;
        const top = await keys({ query, topK: 5 });
        expect(top).toHaveLength(5);
        // The best hit is on topic, and so are most of the five.
        if (topicOfKey(top[0]!) === topic.name && top.filter((k) => topicOfKey(k) === topic.name).length >= 3) right++;
        else misses.push(`${query}: ${top.join(', ')}`);
      }
    expect(right / total, misses.join('\n')).toBeGreaterThanOrEqual(0.9);
  });

  it('answers with the chunk, its offsets, the source, the pipeline and the etag; the alias answers the same', async () => {
    const res = await vsearch({ query: 'orchestra symphony', topK: 3 });
    expect(res.status).toBe(200);
    const [first] = res.body.results;
    expect(first).toMatchObject({ sourceId, pipelineId: embeddingId, etag: expect.stringMatching(/^".+"$/) });
    expect(first!.score).toBeGreaterThan(0.5);
    expect(first!.score).toBeLessThanOrEqual(1);
    // A short document is one chunk: all of its text.
    expect(first!.chunk).toEqual({ text: corpus.get(first!.key), start: 0, end: corpus.get(first!.key)!.length });
    expect((await vsearch({ query: 'orchestra symphony', topK: 3 }, 'search/vector')).body).toEqual(res.body);
  });

  it('filters by prefix, source, MIME type, pipeline and score, and pages with a token bound to its query', async () => {
    expect((await keys({ query: 'legal proceedings', prefix: 'music/', topK: 10 })).every((k) => k.startsWith('music/'))).toBe(true);
    expect(await keys({ query: 'legal proceedings', prefix: 'music/', topK: 100 })).toHaveLength(20);
    expect(await keys({ query: 'legal proceedings', sourceIds: ['src-none'] })).toEqual([]);
    expect(await keys({ query: 'legal proceedings', sourceIds: [sourceId], topK: 1 })).toHaveLength(1);
    expect(await keys({ query: 'legal proceedings', mimeTypes: ['application/json'] })).toEqual([]);
    expect(await keys({ query: 'legal proceedings', mimeTypes: ['text/*'], topK: 1 })).toHaveLength(1);
    expect(await keys({ query: 'legal proceedings', pipelineId: embeddingId, topK: 1 })).toHaveLength(1);
    const scored = (await vsearch({ query: 'legal proceedings', minScore: 0.7, topK: 100 })).body.results;
    expect(scored.length).toBeGreaterThan(0);
    expect(scored.length).toBeLessThan(200);
    expect(scored.every((r) => r.score >= 0.7)).toBe(true);

    const p1 = await vsearch({ query: 'legal proceedings', topK: 4 });
    const p2 = await vsearch({ query: 'legal proceedings', topK: 4, page_token: p1.body.nextPageToken });
    const both = await keys({ query: 'legal proceedings', topK: 8 });
    expect([...p1.body.results, ...p2.body.results].map((r) => r.key)).toEqual(both);
    expect((await vsearch({ query: 'jazz', page_token: p1.body.nextPageToken })).status).toBe(400);
    const last = await vsearch({
      query: 'legal proceedings',
      topK: 100,
      page_token: (await vsearch({ query: 'legal proceedings', topK: 100 })).body.nextPageToken,
    });
    expect(last.body.results).toHaveLength(100);
    expect(last.body.nextPageToken).toBe('');
  });

  it('fuses keyword and vector rankings with hybrid', async () => {
    const res = await vsearch({ query: 'violin', hybrid: true, topK: 5 });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => topicOfKey(r.key))).toEqual(Array(5).fill('music'));
    // Reciprocal rank fusion: at most 1/61 + 1/61 each.
    for (const r of res.body.results) expect(r.score).toBeLessThanOrEqual(2 / 61 + 1e-6);
    // A document that has the word ranks above one that only means something like it.
    const withWord = [...corpus].filter(([k, t]) => k.startsWith('music/') && wordSet(t).has('violin')).map(([k]) => k);
    expect(withWord).toContain(res.body.results[0]!.key);
  });

  it('refuses bad requests with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'query'],
      [{ query: '' }, 'query'],
      [{ query: 'a\u0000b' }, 'query'],
      [{ query: 'x', topK: 0 }, 'topK'],
      [{ query: 'x', topK: 101 }, 'topK'],
      [{ query: 'x', minScore: 2 }, 'minScore'],
      [{ query: 'x', mimeTypes: ['text'] }, 'mimeTypes.0'],
      [{ query: 'x', sourceIds: [] }, 'sourceIds'],
      [{ query: 'x', prefix: 'a\u001bb' }, 'prefix'],
      [{ query: 'x', surprise: 1 }, 'surprise'],
      [{ query: 'x', hybrid: 'yes' }, 'hybrid'],
      [{ query: Array(40).fill('word').join(' '), hybrid: true }, 'query'],
      [{ query: 'x', pipelineId: fulltextId }, 'pipelineId'],
      [{ query: 'x', pipelineId: 'pl-unknown' }, 'pipelineId'],
    ];
    for (const [body, field] of cases) {
      const res = await vsearch(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        res.body.details.map((d: { field: string }) => d.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    const badPipeline = await call(ls.url, 'POST', `/${bucket}/pipelines`, {
      name: 'bad',
      kind: 'embedding',
      embedding: { chunking: { size: 10, overlap: 10 } },
    });
    expect(badPipeline.status).toBe(400);
    expect(badPipeline.body.details.map((d: { field: string }) => d.field)).toEqual(['embedding.chunking.overlap']);
    const badProvider = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'bad', kind: 'embedding', embedding: { provider: 'remote' } });
    expect(badProvider.body.details.map((d: { field: string }) => d.field)).toEqual(['embedding.provider']);
  });

  it("keeps tenants apart: another organisation's bucket is not found, its pipeline is not one of the caller's", async () => {
    const other = { authorization: `Bearer ${await ls.token({ org: 'other-org' })}` };
    const theirs = await vsearch({ query: 'legal proceedings' }, 'vector/search', other);
    const nobody = await call(ls.url, 'POST', `/${unique('nobody')}/vector/search`, { query: 'legal proceedings' }, other);
    expect(theirs.status).toBe(404);
    expect(nobody.status).toBe(404);
    expect(theirs.body.message).toBe(nobody.body.message.replace(/nobody-[0-9a-f]+/, bucket));
    const own = unique('own');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: own }, other)).status).toBe(201);
    const res = await call(ls.url, 'POST', `/${own}/vector/search`, { query: 'legal proceedings', pipelineId: embeddingId }, other);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'pipelineId', problem: `is not an enabled embedding pipeline of bucket ${own}` }]);
    expect((await call(ls.url, 'POST', `/${own}/vector/search`, { query: 'legal proceedings' }, other)).body.results).toEqual([]);
  });

  it('searches from the CLI by keywords, by meaning and both', async () => {
    const cli = await cliAgainst(ls, 'never-shown');
    const vector = await cli('search', bucket, 'jazz musicians', '--vector', '--top', '3');
    expect(vector.code, vector.out).toBe(0);
    expect(vector.out.split('\n')[0]).toMatch(/^SCORE\s+KEY\s+CHUNK$/);
    expect(vector.out.match(/music\/doc-\d+\.txt/g)).toHaveLength(3);
    const hybrid = await cli('search', bucket, 'violin', '--hybrid', '--json');
    expect(hybrid.code).toBe(0);
    expect((JSON.parse(hybrid.out) as { results: VectorResult[] }).results[0]!.key).toMatch(/^music\//);
    const keyword = await cli('search', bucket, 'violin');
    expect(keyword.code).toBe(0);
    expect(keyword.out).toMatch(/^SCORE\s+KEY\s+SNIPPET/);
    expect((await cli('search', bucket, 'violin', '--vector', '--hybrid')).code).toBe(2);
  });

  it('re-embeds only what changed: a re-run keeps the chunks, new chunking replaces them', async () => {
    const before = await sql`select object_id, seq, updated_at from embedding_chunks where pipeline_id = ${embeddingId} order by 1, 2`;
    const rerun = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { ruleId });
    expect(rerun.status).toBe(200);
    const { job } = await waitForJob(ls.url, bucket, sourceId, rerun.body.jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsIndexed: 200 });
    expect(await sql`select object_id, seq, updated_at from embedding_chunks where pipeline_id = ${embeddingId} order by 1, 2`).toEqual(before);
    const info = await call(ls.url, 'GET', `/${bucket}/objects/law%2Fdoc-003.txt/info`);
    expect(info.body.indexStatus[embeddingId]).toMatchObject({ status: 'indexed', detail: 'already embedded: same content and settings' });

    const patched = await call(ls.url, 'PATCH', `/${bucket}/pipelines/${embeddingId}`, { embedding: { chunking: { unit: 'tokens', size: 6, overlap: 2 } } });
    expect(patched.status).toBe(200);
    expect(patched.body.backfill).toEqual([{ sourceId, jobId: expect.any(String), dispatched: expect.any(Number) }]);
    await waitForJob(ls.url, bucket, sourceId, patched.body.backfill[0].jobId);
    const chunks = await sql<{ key: string; start_offset: number; end_offset: number; body: string }[]>`
      select lake_key as key, start_offset, end_offset, body from embedding_chunks where pipeline_id = ${embeddingId}`;
    expect(chunks.length).toBeGreaterThan(400);
    for (const c of chunks) expect(corpus.get(c.key)!.slice(c.start_offset, c.end_offset)).toBe(c.body);
    const found = await vsearch({ query: 'jazz musicians', topK: 5 });
    expect(found.body.results.map((r) => topicOfKey(r.key))).toEqual(Array(5).fill('music'));
    // The best chunk is a piece of the document, at its offsets.
    for (const r of found.body.results) expect(corpus.get(r.key)!.slice(r.chunk.start, r.chunk.end)).toBe(r.chunk.text);
  });

  it('follows changes and deletions: a changed document is found by its new meaning, a deleted one not at all', async () => {
    const changed = 'music/doc-000.txt';
    const deleted = 'music/doc-001.txt';
    const newText = 'The chef baked bread in the oven with flour, butter and sugar from the kitchen.';
    await writeFile(join(dir, changed), newText);
    await unlink(join(dir, deleted));
    await sync();
    const music = await keys({ query: 'jazz musicians', topK: 100, prefix: 'music/' });
    expect(music).not.toContain(deleted);
    expect(music.indexOf(changed)).toBe(music.length - 1);
    const cooking = await vsearch({ query: 'gourmet cuisine', topK: 30 });
    const hit = cooking.body.results.find((r) => r.key === changed);
    expect(hit, 'the changed document among the cooking ones').toBeDefined();
    expect(hit?.chunk.text).toBe(newText.slice(hit!.chunk.start, hit!.chunk.end));
    const [row] = await sql`select ingested_etag from source_objects where source_id = ${sourceId} and key = ${changed}`;
    expect(hit?.etag).toBe(`"${row!.ingested_etag}"`);
    expect(await sql`select 1 from embedding_chunks c join source_objects so on so.id = c.object_id where so.key = ${deleted}`).toHaveLength(0);
  });

  it('drops the vectors with the rule and the pipeline', async () => {
    expect(await chunkCount(embeddingId)).toBeGreaterThan(0);
    expect((await call(ls.url, 'DELETE', `/${bucket}/rules/${ruleId}`)).status).toBe(200);
    expect(await chunkCount(embeddingId)).toBe(0);
    expect(await keys({ query: 'jazz musicians' })).toEqual([]);
    expect((await call(ls.url, 'DELETE', `/${bucket}/pipelines/${embeddingId}`)).status).toBe(200);
    expect(await keys({ query: 'jazz musicians' })).toEqual([]);
  });
});
