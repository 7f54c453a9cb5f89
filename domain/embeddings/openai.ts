/**
 * The `openai-compatible` provider: OpenAI's `POST {baseUrl}/embeddings`, as
 * OpenAI, Ollama, vLLM, text-embeddings-inference, LM Studio and others serve it.
 * Inputs go in batches of `batchSize`; each request waits its turn under the
 * pipeline's rate limit, and a 429, a 5xx or a failed connection is tried
 * again after an exponential, jittered delay (at least what `Retry-After`
 * asks), a bounded number of times; a 413 halves the batch. Any other 4xx,
 * or vectors that do not fit the settings, fail at once: trying again would
 * get the same answer. With a deadline (an object's budget, a search's
 * timeout), a wait that would pass it fails at once instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch, type Dispatcher, type Response } from 'undici';
import { z } from 'zod';
import { findEgressDenied } from '../../activities/net/egress.js';
import { errorMessage } from '../error-text.js';
import type { OpenAiEmbeddingConfig } from './config.js';

/** Sends of a batch before it fails as unavailable (the runner may try the object again later). */
const TRIES = 6;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** A longer Retry-After is waited this long: the try after it is one of the bounded tries. */
const MAX_RETRY_AFTER_MS = 60_000;
/** A Retry-After read as at most this (a day): a search's 503 passes it on. */
const MAX_READ_RETRY_AFTER_MS = 86_400_000;
const REQUEST_TIMEOUT_MS = 120_000;
/** Characters a float of an answer may take (`-0.012345678901234567,` and some room); beyond that an answer is refused. */
const BYTES_PER_FLOAT = 32;
const MAX_DIMENSIONS = 8192;
/** However the settings read, an answer is never held past this. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** A refusal's body is only read for its message. */
const MAX_ERROR_BYTES = 64 * 1024;

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
  /** Ends the requests and the waits between them (the activity was cancelled, the client went away). */
  signal?: AbortSignal;
  /** When (ms since the epoch) the embedding must be done: a wait past it fails with EmbeddingDeadline. */
  deadline?: number;
  /** The pipeline's turns under `requestsPerMinute`, shared by every process (catalog/rate-turns.ts); absent: no limit. */
  turns?: RateTurns;
}

/** Turns at the server under a rate limit: how long until the next free one, and reserving one (answering the wait for it). */
export interface RateTurns {
  next(): Promise<number>;
  take(): Promise<number>;
}

/** A failure trying again cannot fix: a refused request, or vectors that do not fit the settings. */
export class EmbeddingRefused extends Error {
  override readonly name = 'EmbeddingRefused';
}

/** The deadline came, or a wait (the rate limit's, the server's Retry-After) would pass it. */
export class EmbeddingDeadline extends Error {
  override readonly name = 'EmbeddingDeadline';
  constructor(
    message: string,
    /** When asking again may do (the server's Retry-After, the rate limit's next turn); null when unknown. */
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

/** The server answered 413: the batch is too large for it. */
class TooLarge extends Error {}

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

/** Vectors for `texts`, in order, each scaled to unit length. */
export async function openAiEmbed(config: OpenAiEmbeddingConfig, ctx: OpenAiContext, texts: readonly string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += config.batchSize) out.push(...(await embedHalving(config, ctx, texts.slice(i, i + config.batchSize))));
  return out;
}

/** A batch the server finds too large (413) is sent again as two halves, down to single inputs. */
async function embedHalving(config: OpenAiEmbeddingConfig, ctx: OpenAiContext, texts: readonly string[]): Promise<Float32Array[]> {
  try {
    return await embedBatch(config, ctx, texts);
  } catch (err) {
    if (!(err instanceof TooLarge)) throw err;
    if (texts.length === 1) throw new EmbeddingRefused(`${err.message} for a single input`);
    const half = Math.ceil(texts.length / 2);
    return [...(await embedHalving(config, ctx, texts.slice(0, half))), ...(await embedHalving(config, ctx, texts.slice(half)))];
  }
}

async function embedBatch(config: OpenAiEmbeddingConfig, ctx: OpenAiContext, texts: readonly string[]): Promise<Float32Array[]> {
  const url = `${config.baseUrl.replace(/\/+$/, '')}/embeddings`;
  const host = new URL(url).host; // never the userinfo
  const who = `embedding pipeline ${ctx.pipelineId}: ${host}`;
  const body = JSON.stringify({ model: config.model, input: texts, encoding_format: 'float', ...(config.dimensions ? { dimensions: config.dimensions } : {}) });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'lakesync-embeddings/1' };
  if (ctx.apiKey) headers.authorization = `Bearer ${ctx.apiKey}`;
  const turns = config.requestsPerMinute === undefined ? undefined : ctx.turns;
  const left = (): number => (ctx.deadline === undefined ? Infinity : ctx.deadline - Date.now());
  for (let attempt = 1; ; attempt++) {
    ctx.signal?.throwIfAborted();
    const turn = turns ? await turns.next() : 0;
    if (turn > left()) throw new EmbeddingDeadline(`${who}: the rate limit's next turn is in ${Math.ceil(turn / 1000)} s, past the deadline`, turn);
    const wait = turns ? await turns.take() : 0;
    // Another process took the free turn first: this one is past the deadline (and is given up, which only makes the limit stricter).
    if (wait > left()) throw new EmbeddingDeadline(`${who}: the rate limit's next turn is in ${Math.ceil(wait / 1000)} s, past the deadline`, wait);
    if (wait > 0) await sleep(wait, undefined, ctx.signal ? { signal: ctx.signal } : undefined).catch(() => undefined);
    ctx.signal?.throwIfAborted();
    if (left() <= 0) throw new EmbeddingDeadline(`${who}: the deadline passed`, null);
    let failure: Unavailable;
    try {
      const timeout = AbortSignal.timeout(Math.max(1, Math.min(REQUEST_TIMEOUT_MS, left())));
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout,
        dispatcher: ctx.dispatcher,
      });
      if (!res.ok) {
        const answer = await boundedText(res, MAX_ERROR_BYTES, who, true);
        if (res.status === 413) throw new TooLarge(`${who} answered HTTP 413 (batch too large)`);
        if (res.status === 429 || res.status >= 500)
          failure = new Unavailable(`${who} answered HTTP ${res.status}`, retryAfterMs(res.headers.get('retry-after')));
        else if (res.status === 401 || res.status === 403) throw new EmbeddingRefused(`${who} refused the API key (HTTP ${res.status})`);
        else throw new EmbeddingRefused(`${who} answered HTTP ${res.status}${serverMessage(answer, ctx.apiKey)}`);
      } else {
        const max = Math.min(MAX_ANSWER_BYTES, texts.length * (config.dimensions ?? MAX_DIMENSIONS) * BYTES_PER_FLOAT + (1 << 20));
        return vectorsOf(await boundedText(res, max, who, false), texts.length, config.dimensions, who);
      }
    } catch (err) {
      if (err instanceof EmbeddingRefused || err instanceof TooLarge || ctx.signal?.aborted) throw err;
      if (left() <= 0) throw new EmbeddingDeadline(`${who}: the deadline passed waiting for an answer`, null);
      const denied = findEgressDenied(err);
      if (denied) throw new EmbeddingRefused(`${who}: ${denied.message}`);
      // fetch's own message is "fetch failed": the cause says what happened.
      const cause = (err as { cause?: unknown }).cause ?? err;
      failure = new Unavailable(`${who} could not be reached: ${scrub(errorMessage(cause), ctx.apiKey)}`, null);
    }
    if (attempt >= (ctx.tries ?? TRIES)) throw new Error(`${failure.message} (${attempt} tries)`);
    // Full backoff with jitter, so workers that failed together do not come back together; never sooner than the server asked.
    const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    const delayMs = Math.round(Math.max(backoff, Math.min(failure.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
    // The wait actually slept (Retry-After capped) decides; the server's own ask goes on as the hint a search passes to its client.
    if (delayMs > left())
      throw new EmbeddingDeadline(
        failure.retryAfterMs
          ? `${failure.message}, asking to wait ${Math.ceil(failure.retryAfterMs / 1000)} s, past the deadline`
          : `${failure.message}; the next try would be past the deadline`,
        failure.retryAfterMs,
      );
    ctx.onRetry?.({ pipelineId: ctx.pipelineId, host, attempt, delayMs, reason: failure.message });
    await sleep(delayMs, undefined, ctx.signal ? { signal: ctx.signal } : undefined);
  }
}

/**
 * The answer's text, never more than `max` bytes of it in memory: past that,
 * an answer is refused, or with `cut` (a refusal, read only for its message)
 * the rest is dropped.
 */
async function boundedText(res: Response, max: number, who: string, cut: boolean): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    const bytes = chunk as Uint8Array;
    if (size + bytes.byteLength > max) {
      if (!cut) throw new EmbeddingRefused(`${who} answered more than ${max} bytes`);
      parts.push(Buffer.from(bytes.subarray(0, max - size)));
      await res.body?.cancel().catch(() => undefined);
      break;
    }
    size += bytes.byteLength;
    parts.push(Buffer.from(bytes));
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds (capped); null when absent or unreadable. */
function retryAfterMs(value: string | null): number | null {
  if (value === null) return null;
  const seconds = Number(value.trim());
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_READ_RETRY_AFTER_MS) : null;
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
    if (v.length !== expected || v.length === 0 || v.length > MAX_DIMENSIONS)
      throw new EmbeddingRefused(
        `${who} answered ${v.length}-dimensional vectors, expected ${
          v.length > MAX_DIMENSIONS ? `at most ${MAX_DIMENSIONS}` : dimensions === undefined ? expected : `${expected} (dimensions)`
        }`,
      );
    const u = unit(v);
    if (!u) throw new EmbeddingRefused(`${who} answered a vector for input ${i} that is not finite as float32`);
    return u;
  });
}

/** The vector scaled to unit length; null when a component, or the length, is not finite as float32 (1e39 is Infinity there). */
function unit(v: readonly number[]): Float32Array | null {
  const out = Float32Array.from(v);
  // A loop, not Math.hypot(...out): spreading thousands of arguments can overflow the stack.
  let sum = 0;
  for (const x of out) {
    if (!Number.isFinite(x)) return null;
    sum += x * x;
  }
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm)) return null;
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

/** Text without the key, nor any userinfo of an address (`//user:pw@`). */
const scrub = (s: string, apiKey: string | null): string => {
  const bare = s.replace(/\/\/[^/\s@]*@/g, '//');
  return apiKey ? bare.split(apiKey).join('[api key]') : bare;
};
