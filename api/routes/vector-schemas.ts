import { z } from 'zod';
import { text } from '../../domain/text.js';
import { searchQueryProblem } from '../../domain/search-query.js';
import { MimePattern } from '../../domain/source-config.js';

export const VectorSearchBody = z
  .object({
    query: text().trim().min(1, 'must not be empty').max(2048),
    topK: z.number().int().min(1).max(100).default(10),
    prefix: text().max(1024).default(''),
    sourceIds: z.array(text().min(1).max(64)).min(1).max(100).optional(),
    mimeTypes: z.array(MimePattern).min(1).max(20).optional(),
    /** Search one embedding pipeline's chunks instead of all of the bucket's. */
    pipelineId: text().min(1).max(64).optional(),
    /** Objects whose best chunk is less similar than this are left out. */
    minScore: z.number().min(-1).max(1).default(-1),
    page_token: text().max(2048).optional(),
    /** Fuse the bucket's keyword ranking with the vector ranking (reciprocal rank fusion). */
    hybrid: z.boolean().default(false),
  })
  .strict()
  .superRefine((b, ctx) => {
    // The keyword half takes the query as web-search syntax, with its bounds.
    const problem = b.hybrid ? searchQueryProblem(b.query) : null;
    if (problem) ctx.addIssue({ code: 'custom', path: ['query'], message: problem });
  });
export type VectorSearchBody = z.infer<typeof VectorSearchBody>;
