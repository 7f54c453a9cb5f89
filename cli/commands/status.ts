import type { Command } from 'commander';
import type { DeadLetter, Page, SyncStatus } from '../api-types.js';
import { seg } from '../client.js';
import { contextOf, pageSizeOption, type Io } from '../context.js';
import { deadLetterTable, pageFooter, syncStatusFields } from '../views.js';

export function registerStatus(program: Command, io: Io): void {
  program
    .command('status')
    .description("a source's sync status (GetSyncStatus): live while a sync runs")
    .argument('<bucket>', 'the bucket')
    .argument('<sourceId>', 'the source')
    .action(async (bucket: string, sourceId: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const status = await ctx.client.get<SyncStatus>(`/${seg(bucket)}/sources/${seg(sourceId)}/sync`);
      ctx.show(status, () => syncStatusFields(status));
    });

  program
    .command('dead-letters')
    .description('objects that failed every attempt, with their last error')
    .argument('<bucket>', 'the bucket')
    .argument('<sourceId>', 'the source')
    .option('--page-size <n>', 'objects per page (API default 50)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous list')
    .action(async (bucket: string, sourceId: string, o: { pageSize?: number; pageToken?: string }, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const page = await ctx.client.get<Page & { deadLetters: DeadLetter[] }>(`/${seg(bucket)}/sources/${seg(sourceId)}/dead-letters`, {
        page_size: o.pageSize,
        page_token: o.pageToken,
      });
      ctx.show(page, () =>
        page.deadLetters.length === 0 ? 'no dead letters\n' : deadLetterTable(page.deadLetters) + pageFooter(page, page.deadLetters.length),
      );
    });
}
