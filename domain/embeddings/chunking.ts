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
 * last `overlap` of the one before, stopping after `max` chunks (`truncated`
 * says so). Chunks with nothing but spaces and punctuation are left out.
 * Tokens are read as a stream, holding only the chunks still open, so a large
 * text with a small step costs no more memory than its chunks.
 */
export function chunkText(
  text: string,
  chunking: Chunking,
  tokens: (text: string) => Iterable<TokenSpan>,
  max: number,
): { chunks: Chunk[]; truncated: boolean } {
  const step = chunking.size - chunking.overlap;
  const chunks: Chunk[] = [];
  if (chunking.unit === 'tokens') {
    // Chunk k spans tokens k·step … k·step + size − 1; the last one ends at the text's last token.
    const open: { index: number; start: number }[] = [];
    let last: TokenSpan | undefined;
    let lastClosedAtEnd = false;
    let j = 0;
    for (const span of tokens(text)) {
      if (j % step === 0) open.push({ index: j, start: span.start });
      last = span;
      lastClosedAtEnd = false;
      if (open.length > 0 && j === open[0]!.index + chunking.size - 1) {
        const { start } = open.shift()!;
        chunks.push({ text: text.slice(start, span.end), start, end: span.end });
        lastClosedAtEnd = true;
        if (chunks.length >= max) return { chunks, truncated: true };
      }
      j++;
    }
    // The text ended inside open chunks: the first of them ends at the last token (as a full one would have).
    if (!lastClosedAtEnd && last && open.length > 0) {
      const { start } = open[0]!;
      chunks.push({ text: text.slice(start, last.end), start, end: last.end });
    }
    return { chunks, truncated: false };
  }
  for (let start = 0; start < text.length; start += step) {
    let end = Math.min(start + chunking.size, text.length);
    // Never split a surrogate pair: the chunk ends before it.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    const from = start > 0 && isLowSurrogate(text.charCodeAt(start)) ? start - 1 : start;
    const slice = text.slice(from, end);
    if (/[\p{L}\p{N}]/u.test(slice)) chunks.push({ text: slice, start: from, end });
    if (end >= text.length) break;
    if (chunks.length >= max) return { chunks, truncated: true };
  }
  return { chunks, truncated: false };
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;
