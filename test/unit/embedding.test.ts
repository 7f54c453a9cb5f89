/**
 * The embedding pipeline's pure parts: chunking with offsets, its settings and
 * what re-runs it, and the local model's vectors.
 */
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../domain/embeddings/chunking.js';
import { ChunkingSchema, EmbeddingConfigSchema, EmbeddingCreateInput } from '../../domain/embeddings/config.js';
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

describe('openai-compatible settings', () => {
  const server = { provider: 'openai-compatible', baseUrl: 'https://embed.example.com/v1', model: 'text-embedding-3-small' } as const;
  // As the API hands them over: parsed by the create body's schema.
  const created = (embedding: object) => createPipelineConfig('embedding', { embedding: EmbeddingCreateInput.parse(embedding) });

  it('splits the API key off the settings to be sealed, and fills the defaults', () => {
    const change = created({ ...server, apiKey: 'sk-123', dimensions: 512 });
    expect(change.secret).toBe('sk-123');
    expect(change.config).toEqual({
      embedding: { ...server, dimensions: 512, batchSize: 32, maxBytes: 1024 * 1024, chunking: { unit: 'characters', size: 1000, overlap: 100 } },
    });
    expect(JSON.stringify(change.config)).not.toContain('sk-123');
  });

  it('re-runs when the model, dimensions or server change, not for the batch size, rate or key', () => {
    const current = created(server).config;
    const reruns = (embedding: object) => (patchPipelineConfig(current, { embedding }) as { reruns: boolean }).reruns;
    expect(reruns({ model: 'text-embedding-3-large' })).toBe(true);
    expect(reruns({ dimensions: 256 })).toBe(true);
    expect(reruns({ baseUrl: 'https://other.example.com/v1' })).toBe(true);
    expect(reruns({ batchSize: 8 })).toBe(false);
    expect(reruns({ requestsPerMinute: 60 })).toBe(false);
    expect(reruns({ apiKey: 'sk-new' })).toBe(false);
  });

  it('drops the stored key when the server or provider changes without a new one', () => {
    const current = created(server).config;
    const change = (embedding: object) => patchPipelineConfig(current, { embedding }) as { dropSecret: boolean; secret: string | null };
    expect(change({ baseUrl: 'https://other.example.com/v1' })).toMatchObject({ dropSecret: true, secret: null });
    expect(change({ baseUrl: 'https://other.example.com/v1', apiKey: 'sk-other' })).toMatchObject({ dropSecret: false, secret: 'sk-other' });
    expect(change({ provider: 'local', model: 'glove-6b-100d' })).toMatchObject({ dropSecret: true });
    expect(change({ model: 'text-embedding-3-large' })).toMatchObject({ dropSecret: false, secret: null });
    // The local provider has no key to keep.
    expect(() => patchPipelineConfig(createPipelineConfig('embedding', {}).config, { embedding: { apiKey: 'sk-1' } })).toThrow(/local provider/);
  });

  it('switching provider keeps only what every provider has', () => {
    const current = created({ ...server, maxBytes: 5000 }).config;
    expect(patchPipelineConfig(current, { embedding: { provider: 'local', model: 'glove-6b-100d' } })).toMatchObject({
      config: { embedding: { provider: 'local', model: 'glove-6b-100d', maxBytes: 5000 } },
    });
    expect(patchPipelineConfig(current, { embedding: { provider: 'local' } })).toMatchObject({ config: { embedding: { model: 'glove-6b-100d' } } });
    // A server needs its address and model: nothing of the local settings stands in for them.
    const local = createPipelineConfig('embedding', {}).config;
    expect(() => patchPipelineConfig(local, { embedding: { provider: 'openai-compatible', model: 'm' } })).toThrow(/baseUrl/);
  });

  /** The fields a create body's settings are refused for. */
  const refusedFields = (embedding: object): string[] => [
    ...new Set(EmbeddingCreateInput.safeParse(embedding).error?.issues.map((i) => i.path.join('.')) ?? []),
  ];

  it('refuses an address carrying credentials however they are spelled, or with a query or fragment', () => {
    expect(refusedFields({ ...server, baseUrl: 'https:///a:b@embed.example.com/v1' })).toEqual(['baseUrl']);
    expect(refusedFields({ ...server, baseUrl: 'https://a@embed.example.com/v1' })).toEqual(['baseUrl']);
    expect(refusedFields({ ...server, baseUrl: 'https://embed.example.com/v1?x=1' })).toEqual(['baseUrl']);
    expect(refusedFields({ ...server, baseUrl: 'https://embed.example.com/v1#f' })).toEqual(['baseUrl']);
    expect(refusedFields({ ...server, baseUrl: 'https://embed.example.com/v1?' })).toEqual(['baseUrl']);
    expect(refusedFields(server)).toEqual([]);
    // A PATCH's merged settings are checked as a create's are.
    const current = created(server).config;
    expect(() => patchPipelineConfig(current, { embedding: { baseUrl: 'https:///a:b@embed.example.com/v1' } })).toThrow(/credentials/);
  });

  it('refuses an API key of anything but visible ASCII (fetch cannot send it in a header)', () => {
    expect(refusedFields({ ...server, apiKey: 'sk-ключ' })).toEqual(['apiKey']);
    expect(refusedFields({ ...server, apiKey: 'sk 123' })).toEqual(['apiKey']);
    expect(refusedFields({ ...server, apiKey: 'sk-' + '\u2028' })).toEqual(['apiKey']);
    expect(refusedFields({ ...server, apiKey: 'sk-Az09_-.~!' })).toEqual([]);
  });

  it('refuses batches whose answers would be too large, and rates too low for an object of 10,000 chunks', () => {
    // Without dimensions a vector may have 8192: 256 inputs fit, 257 do not.
    expect(refusedFields({ ...server, batchSize: 256 })).toEqual([]);
    expect(refusedFields({ ...server, batchSize: 257 })).toEqual(['batchSize']);
    expect(refusedFields({ ...server, batchSize: 2048, dimensions: 1024 })).toEqual([]);
    expect(refusedFields({ ...server, batchSize: 2048, dimensions: 1025 })).toEqual(['batchSize']);
    // 10,000 chunks 32 to a request are 313 requests: 11 a minute take under 30 minutes, 10 take more.
    expect(refusedFields({ ...server, requestsPerMinute: 11 })).toEqual([]);
    expect(refusedFields({ ...server, requestsPerMinute: 10 })).toEqual(['requestsPerMinute']);
    const current = created(server).config;
    expect(() => patchPipelineConfig(current, { embedding: { batchSize: 1, requestsPerMinute: 60 } })).toThrow(/requestsPerMinute/);
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
