import type { Command } from 'commander';
import type { Bucket, Page } from '../api-types.js';
import { seg } from '../client.js';
import { contextOf, pageSizeOption, type Io } from '../context.js';
import { inert } from '../output.js';
import { bucketFields, bucketTable, pageFooter } from '../views.js';

export function registerBuckets(program: Command, io: Io): void {
  const buckets = program.command('buckets').description('lake buckets of your organisation');

  buckets
    .command('list')
    .description('list buckets')
    .option('--page-size <n>', 'buckets per page (API default 50)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous list')
    .action(async (o: { pageSize?: number; pageToken?: string }, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const page = await ctx.client.get<Page & { buckets: Bucket[] }>('/admin/buckets', { page_size: o.pageSize, page_token: o.pageToken });
      ctx.show(page, () => bucketTable(page.buckets) + pageFooter(page, page.buckets.length));
    });

  buckets
    .command('get')
    .description('show one bucket')
    .argument('<name>', 'bucket name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const bucket = await ctx.client.get<Bucket>(`/admin/buckets/${seg(name)}`);
      ctx.show(bucket, () => bucketFields(bucket));
    });

  buckets
    .command('create')
    .description('create a bucket (S3 naming rules: 3-63 lowercase letters, digits and hyphens)')
    .argument('<name>', 'bucket name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const bucket = await ctx.client.post<Bucket>('/admin/buckets', { name });
      ctx.show(bucket, () => `created bucket ${inert(bucket.name)} (${inert(bucket.bucketId)})\n`);
    });

  buckets
    .command('delete')
    .description('delete an empty bucket (delete its sources and objects first)')
    .argument('<name>', 'bucket name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      await ctx.client.delete(`/admin/buckets/${seg(name)}`);
      ctx.done(`deleted bucket ${name}`);
    });
}
