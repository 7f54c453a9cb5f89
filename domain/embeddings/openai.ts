/**
 * The `openai-compatible` provider: OpenAI's `POST {baseUrl}/embeddings`, as
 * OpenAI, Ollama, vLLM, text-embeddings-inference, LM Studio and others serve it.
 * Inputs go in batches of `batchSize`; each request waits its turn under the
 * pipeline's rate limit, and a 429, a 5xx or a failed connection is tried
 * again after an exponential, jittered delay (at least what `Retry-After`
 * asks), a bounded number of times. Any other 4xx, or vectors that do not fit
 * the settings, fail at once: trying again would get the same answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch, type Dispatcher, type Response } from 'undici';
import { z } from 'zod';
import { findEgressDenied } from '../../activities/net/egress.js';
import { Throttle } from '../../activities/throttle.js';
import { errorMessage } from '../error-text.js';
import type { OpenAiEmbeddingConfig } from './config.js';

/** Sends of a batch before it fails as unavailable (the runner may try the object again later). */
const TRIES = 6;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** A longer Retry-After is waited this long: the try after it is one of the bounded tries. */
const MAX_RETRY_AFTER_MS = 60_000;
const REQUEST_TIMEOUT_MS = 120_000;
/** Characters a float of an answer may take (`-0.012345678901234567,` and some room); beyond that an answer is refused. */
const BYTES_PER_FLOAT = 32;
const MAX_DIMENSIONS = 8192;

export interface OpenAiContext {
  /** Names the pipeline in failures, and keys its rate limit. */
  pipelineId: string;
  /** Sent as `Authorization: Bearer …`; never logged, never put in an error. */
  apiKey: string | null;
  /** Connections through the egress policy. */
  dispatcher: Dispatcher;
  /** Told of each retry, for the log (the caller's logger carries its own fields). */
  onRetry?: (retry: { pipelineId: string; host: string; attempt: number; delayMs: number; reason: string }) => void;
  /** Sends of one batch before it fails as unavailable (default 6); a search, whose caller waits, tries fewer. */
  tries?: number;
  /** Ends the requests and the waits between them (the activity was cancelled). */
  signal?: AbortSignal;
}

/** A failure trying again cannot fix: a refused request, or vectors that do not fit the settings. */
export class EmbeddingRefused extends Error {
  override readonly name = 'EmbeddingRefused';
}

/** A failure that may pass: the server stayed busy or unreachable through every try. */
class Unavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

const EmbeddingsResponse = z.object({
  data: z.array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number()) })),
});

// One pacer per pipeline in this process, shared by every activity (or API request) that embeds for it.
const pacers = new Map<string, { perMinute: number; throttle: Throttle }>();
function pacerFor(pipelineId: string, perMinute: number | undefined): Throttle | null {
  if (perMinute === undefined) return null;
  let p = pacers.get(pipelineId);
  if (p?.perMinute !== perMinute) pacers.set(pipelineId, (p = { perMinute, throttle: new Throttle(perMinute / 60) }));
  return p.throttle;
}

/** Vectors for `texts`, in order, each scaled to unit length. */
export async function openAiEmbed(config: OpenAiEmbeddingConfig, ctx: OpenAiContext, texts: readonly string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += config.batchSize) out.push(...(await embedBatch(config, ctx, texts.slice(i, i + config.batchSize))));
  return out;
}

async function embedBatch(config: OpenAiEmbeddingConfig, ctx: OpenAiContext, texts: readonly string[]): Promise<Float32Array[]> {
  const url = `${config.baseUrl.replace(/\/+$/, '')}/embeddings`;
  const host = new URL(url).host;
  const who = `embedding pipeline ${ctx.pipelineId}: ${host}`;
  const body = JSON.stringify({ model: config.model, input: texts, encoding_format: 'float', ...(config.dimensions ? { dimensions: config.dimensions } : {}) });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'lakesync-embeddings/1' };
  if (ctx.apiKey) headers.authorization = `Bearer ${ctx.apiKey}`;
  const pacer = pacerFor(ctx.pipelineId, config.requestsPerMinute);
  for (let attempt = 1; ; attempt++) {
    ctx.signal?.throwIfAborted();
    await pacer?.take(ctx.signal);
    ctx.signal?.throwIfAborted();
    let failure: Unavailable;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: ctx.signal ? AbortSignal.any([ctx.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        dispatcher: ctx.dispatcher,
      });
      const answer = await boundedText(res, texts.length * (config.dimensions ?? MAX_DIMENSIONS) * BYTES_PER_FLOAT + (1 << 20), who);
      if (res.ok) return vectorsOf(answer, texts.length, config.dimensions, who);
      if (res.status === 429 || res.status >= 500)
        failure = new Unavailable(`${who} answered HTTP ${res.status}`, retryAfterMs(res.headers.get('retry-after')));
      else if (res.status === 401 || res.status === 403) throw new EmbeddingRefused(`${who} refused the API key (HTTP ${res.status})`);
      else throw new EmbeddingRefused(`${who} answered HTTP ${res.status}${serverMessage(answer, ctx.apiKey)}`);
    } catch (err) {
      if (err instanceof EmbeddingRefused || ctx.signal?.aborted) throw err;
      const denied = findEgressDenied(err);
      if (denied) throw new EmbeddingRefused(`${who}: ${denied.message}`);
      // fetch's own message is "fetch failed": the cause says what happened.
      const cause = (err as { cause?: unknown }).cause ?? err;
      failure = new Unavailable(`${who} could not be reached: ${scrub(errorMessage(cause), ctx.apiKey)}`, null);
    }
    if (attempt >= (ctx.tries ?? TRIES)) throw new Error(`${failure.message} (${attempt} tries)`);
    // Full backoff with jitter, so workers that failed together do not come back together; never sooner than the server asked.
    const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    const delayMs = Math.round(Math.max(backoff, failure.retryAfterMs ?? 0));
    ctx.onRetry?.({ pipelineId: ctx.pipelineId, host, attempt, delayMs, reason: failure.message });
    await sleep(delayMs, undefined, ctx.signal ? { signal: ctx.signal } : undefined);
  }
}

/** The answer's text, refused past `max` bytes rather than held in memory whatever its size. */
async function boundedText(res: Response, max: number, who: string): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > max) throw new EmbeddingRefused(`${who} answered more than ${max} bytes`);
    parts.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds (capped); null when absent or unreadable. */
function retryAfterMs(value: string | null): number | null {
  if (value === null) return null;
  const seconds = Number(value.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : null;
}

function vectorsOf(answer: string, count: number, dimensions: number | undefined, who: string): Float32Array[] {
  let parsed;
  try {
    parsed = EmbeddingsResponse.parse(JSON.parse(answer));
  } catch {
    throw new EmbeddingRefused(`${who} answered with something other than an embeddings list`);
  }
  const byIndex = new Map(parsed.data.map((d) => [d.index, d.embedding]));
  if (parsed.data.length !== count || byIndex.size !== count) throw new EmbeddingRefused(`${who} answered ${parsed.data.length} vectors for ${count} inputs`);
  const expected = dimensions ?? parsed.data[0]!.embedding.length;
  return Array.from({ length: count }, (_, i) => {
    const v = byIndex.get(i);
    if (!v) throw new EmbeddingRefused(`${who} answered no vector for input ${i}`);
    if (v.length !== expected || v.length === 0)
      throw new EmbeddingRefused(
        `${who} answered ${v.length}-dimensional vectors, expected ${dimensions === undefined ? expected : `${expected} (dimensions)`}`,
      );
    return unit(v);
  });
}

function unit(v: readonly number[]): Float32Array {
  const out = Float32Array.from(v);
  const norm = Math.hypot(...out);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}

/** The server's own explanation of a refusal (`error.message`), short and without the key. */
function serverMessage(answer: string, apiKey: string | null): string {
  let message: unknown;
  try {
    message = (JSON.parse(answer) as { error?: { message?: unknown } }).error?.message;
  } catch {
    return '';
  }
  return typeof message === 'string' && message ? `: ${scrub(message, apiKey).slice(0, 200)}` : '';
}

const scrub = (s: string, apiKey: string | null): string => (apiKey ? s.split(apiKey).join('[api key]') : s);
