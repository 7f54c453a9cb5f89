import type { Chunking } from './config.js';

export interface Chunk {
  text: string;
  /** Offsets in the extracted text, in UTF-16 code units: text.slice(start, end) is the chunk. */
  start: number;
  end: number;
}

/** A token: a span of the text the provider counts as one. */
export interface TokenSpan {
  start: number;
  end: number;
}

/**
 * Cuts text into chunks of `size` characters or tokens, each repeating the
 * last `overlap` of the one before. Chunks with nothing but spaces and
 * punctuation are left out.
 */
export function chunkText(text: string, chunking: Chunking, tokens: (text: string) => Iterable<TokenSpan>): Chunk[] {
  const step = chunking.size - chunking.overlap;
  const chunks: Chunk[] = [];
  if (chunking.unit === 'tokens') {
    const spans = [...tokens(text)];
    for (let i = 0; i < spans.length; i += step) {
      const last = spans[Math.min(i + chunking.size, spans.length) - 1]!;
      const start = spans[i]!.start;
      chunks.push({ text: text.slice(start, last.end), start, end: last.end });
      if (i + chunking.size >= spans.length) break;
    }
    return chunks;
  }
  for (let start = 0; start < text.length; start += step) {
    let end = Math.min(start + chunking.size, text.length);
    // Never split a surrogate pair: the chunk ends before it.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    const from = start > 0 && isLowSurrogate(text.charCodeAt(start)) ? start - 1 : start;
    const slice = text.slice(from, end);
    if (/[\p{L}\p{N}]/u.test(slice)) chunks.push({ text: slice, start: from, end });
    if (end >= text.length) break;
  }
  return chunks;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;
