import { z } from 'zod';

/** Ranked keys with HTML-escaped snippets, matches in <mark>. */
export const SearchResults = z.object({
  query: z.string(),
  results: z.array(z.object({ key: z.string(), score: z.number(), snippet: z.string(), sourceId: z.string(), pipelineId: z.string(), etag: z.string() })),
  nextPageToken: z.string(),
});

/** Objects nearest the query, each by its best chunk (the chunk's offsets are in the object's extracted text). */
export const VectorSearchResults = z.object({
  query: z.string(),
  results: z.array(
    z.object({
      key: z.string(),
      /** Cosine similarity; with `hybrid`, the reciprocal-rank-fusion score. */
      score: z.number(),
      chunk: z.object({ text: z.string(), start: z.number(), end: z.number() }),
      sourceId: z.string(),
      pipelineId: z.string(),
      etag: z.string(),
    }),
  ),
  nextPageToken: z.string(),
});
