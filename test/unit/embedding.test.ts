/**
 * The embedding pipeline's pure parts: chunking with offsets, its settings and
 * what re-runs it, and the local model's vectors.
 */
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../domain/embeddings/chunking.js';
import { ChunkingSchema, EmbeddingConfigSchema } from '../../domain/embeddings/config.js';
import { localEmbedder } from '../../domain/embeddings/providers.js';
import { wordsOf } from '../../domain/embeddings/glove.js';
import { createPipelineConfig, patchPipelineConfig } from '../../domain/pipeline-kinds.js';

const chunking = (c: object) => ChunkingSchema.parse(c);

describe('chunking', () => {
  it('cuts characters into overlapping windows whose offsets give back their text', () => {
    const text = 'abcdefghijklmnopqrstuvwxyz'.repeat(3);
    const chunks = chunkText(text, chunking({ size: 20, overlap: 5 }), wordsOf, 1000).chunks;
    expect(chunks.map((c) => [c.start, c.end])).toEqual([
      [0, 20],
      [15, 35],
      [30, 50],
      [45, 65],
      [60, 78],
    ]);
    for (const c of chunks) expect(text.slice(c.start, c.end)).toBe(c.text);
  });

  it('cuts tokens into windows of whole words, offsets spanning first to last word', () => {
    const text = 'one two, three; four five six seven';
    const chunks = chunkText(text, chunking({ unit: 'tokens', size: 4, overlap: 1 }), wordsOf, 1000).chunks;
    expect(chunks.map((c) => c.text)).toEqual(['one two, three; four', 'four five six seven']);
    for (const c of chunks) expect(text.slice(c.start, c.end)).toBe(c.text);
  });

  it('never splits a surrogate pair and leaves out chunks of only punctuation', () => {
    const text = `${'a'.repeat(15)}😀${'b'.repeat(10)}`;
    const chunks = chunkText(text, chunking({ size: 16, overlap: 0 }), wordsOf, 1000).chunks;
    expect(chunks.map((c) => c.text)).toEqual(['a'.repeat(15), `😀${'b'.repeat(10)}`]);
    expect(chunkText('.....  ,,,, ;;;;', chunking({ size: 16, overlap: 0 }), wordsOf, 1000).chunks).toEqual([]);
  });

  it('ends a token window at the last word when the text stops inside one, and after n words when it fits exactly', () => {
    const w = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
    const cut = (n: number) => chunkText(w(n), chunking({ unit: 'tokens', size: 4, overlap: 1 }), wordsOf, 1000).chunks.map((c) => c.text);
    expect(cut(7)).toEqual(['w0 w1 w2 w3', 'w3 w4 w5 w6']);
    expect(cut(8)).toEqual(['w0 w1 w2 w3', 'w3 w4 w5 w6', 'w6 w7']);
    expect(cut(3)).toEqual(['w0 w1 w2']);
    expect(cut(0)).toEqual([]);
  });

  it('stops at the chunk limit while cutting, and says so', () => {
    const text = 'word '.repeat(100_000);
    const byChars = chunkText(text, chunking({ size: 10, overlap: 9 }), wordsOf, 50);
    expect(byChars.chunks).toHaveLength(50);
    expect(byChars.truncated).toBe(true);
    const byTokens = chunkText(text, chunking({ unit: 'tokens', size: 10, overlap: 9 }), wordsOf, 50);
    expect(byTokens.chunks).toHaveLength(50);
    expect(byTokens.truncated).toBe(true);
    expect(chunkText('a b c', chunking({ size: 10, overlap: 0 }), wordsOf, 50).truncated).toBe(false);
  });

  it('refuses an overlap as large as the chunk, naming it', () => {
    const r = ChunkingSchema.safeParse({ size: 100, overlap: 100 });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['overlap', 'must be less than size']]);
  });
});

describe('embedding pipeline settings', () => {
  it('defaults to the local model, 1000-character chunks overlapping by 100', () => {
    expect(createPipelineConfig('embedding', {}).config).toEqual({
      embedding: { maxBytes: 1024 * 1024, provider: 'local', model: 'glove-6b-100d', chunking: { unit: 'characters', size: 1000, overlap: 100 } },
    });
    expect(EmbeddingConfigSchema.safeParse({ provider: 'openai' }).success).toBe(false);
  });

  it('re-runs when chunking or what is read changes, not otherwise', () => {
    const current = { embedding: EmbeddingConfigSchema.parse({}) };
    expect(patchPipelineConfig(current, { embedding: { chunking: { unit: 'tokens', size: 200, overlap: 20 } } })).toMatchObject({ reruns: true });
    expect(patchPipelineConfig(current, { embedding: { maxBytes: 1000 } })).toMatchObject({ reruns: true });
    expect(patchPipelineConfig(current, { embedding: { model: 'glove-6b-100d' } })).toMatchObject({ reruns: false });
  });
});

describe('the local model', () => {
  it('gives unit vectors that put texts about the same thing closer than texts about others', async () => {
    const model = await localEmbedder('glove-6b-100d');
    const [cats, kitten, stocks, nothing] = await model.embed([
      'The cat purred on the sofa.',
      'A kitten chased the mouse.',
      'Shares fell on the exchange.',
      '!!! ???',
    ]);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(dot(cats!, cats!)).toBeCloseTo(1, 5);
    expect(dot(cats!, kitten!)).toBeGreaterThan(dot(cats!, stocks!) + 0.2);
    expect([...nothing!].every((x) => x === 0)).toBe(true);
    expect(model.dimensions).toBe(100);
  });
});
