import { z } from 'zod';

/** Ranked keys with HTML-escaped snippets, matches in <mark>. */
export const SearchResults = z.object({
  query: z.string(),
  results: z.array(z.object({ key: z.string(), score: z.number(), snippet: z.string(), sourceId: z.string(), pipelineId: z.string(), etag: z.string() })),
  nextPageToken: z.string(),
});
