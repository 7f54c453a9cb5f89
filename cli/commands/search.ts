import type { Command } from 'commander';
import type { SearchResults, VectorSearchResults } from '../api-types.js';
import { seg } from '../client.js';
import { contextOf, pageSizeOption, type Io } from '../context.js';
import { UsageError } from '../errors.js';
import { inert, renderTable } from '../output.js';

interface SearchOptions {
  vector?: boolean;
  hybrid?: boolean;
  prefix?: string;
  pipeline?: string;
  top?: number;
  pageToken?: string;
}

const footer = (nextPageToken: string): string => (nextPageToken ? `next page: --page-token ${inert(nextPageToken)}\n` : '');

export function registerSearch(program: Command, io: Io): void {
  program
    .command('search')
    .description('search a bucket: by keywords (fulltext pipelines), or by meaning (--vector, embedding pipelines) or both fused (--hybrid)')
    .argument('<bucket>', 'bucket name')
    .argument('<query>', 'what to look for')
    .option('--vector', 'search by meaning: the objects whose chunks are nearest the query')
    .option('--hybrid', 'fuse the keyword and the vector rankings')
    .option('--prefix <prefix>', 'only keys under this prefix')
    .option('--pipeline <pipelineId>', "one pipeline's index instead of all of the bucket's")
    .option('--top <n>', 'results per page (default 10)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous search')
    .action(async (bucket: string, query: string, o: SearchOptions, cmd: Command) => {
      if (o.vector && o.hybrid) throw new UsageError('--vector and --hybrid: give one of them (--hybrid searches by meaning too)');
      const ctx = await contextOf(cmd, io);
      const common = { query, prefix: o.prefix, pipelineId: o.pipeline, page_token: o.pageToken };
      if (!o.vector && !o.hybrid) {
        const found = await ctx.client.post<SearchResults>(`/${seg(bucket)}/search`, { ...common, page_size: o.top });
        return ctx.show(
          found,
          () =>
            renderTable(found.results, [
              { header: 'score', value: (r) => r.score.toFixed(4) },
              { header: 'key', value: (r) => r.key, max: 60 },
              { header: 'snippet', value: (r) => r.snippet.replace(/<\/?mark>/g, ''), max: 100 },
            ]) + footer(found.nextPageToken),
        );
      }
      const found = await ctx.client.post<VectorSearchResults>(`/${seg(bucket)}/vector/search`, { ...common, topK: o.top, hybrid: o.hybrid === true });
      ctx.show(
        found,
        () =>
          renderTable(found.results, [
            { header: 'score', value: (r) => r.score.toFixed(4) },
            { header: 'key', value: (r) => r.key, max: 60 },
            { header: 'chunk', value: (r) => `[${r.chunk.start}-${r.chunk.end}] ${r.chunk.text}`, max: 100 },
          ]) + footer(found.nextPageToken),
      );
    });
}
