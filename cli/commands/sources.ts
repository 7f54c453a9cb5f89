import type { Command } from 'commander';
import type { Page, Source } from '../api-types.js';
import { seg } from '../client.js';
import { bucketAndArgs, contextOf, pageSizeOption, type Io } from '../context.js';
import { inert } from '../output.js';
import { readSourceFile } from '../source-file.js';
import { pageFooter, sourceFields, sourceTable } from '../views.js';

interface BucketOption {
  bucket?: string;
}

const sourcePath = (bucket: string, sourceId: string, rest = ''): string => `/${seg(bucket)}/sources/${seg(sourceId)}${rest}`;

export function registerSources(program: Command, io: Io): void {
  const sources = program.command('sources').description('sources of a bucket: where objects come from');
  const bucketOption = ['-b, --bucket <bucket>', 'the bucket (instead of the first argument)'] as const;

  sources
    .command('list')
    .description('list the sources of a bucket')
    .usage('[options] [bucket]')
    .argument('[args...]')
    .option(...bucketOption)
    .option('--page-size <n>', 'sources per page (API default 50)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous list')
    .action(async (args: string[], o: BucketOption & { pageSize?: number; pageToken?: string }, cmd: Command) => {
      const { bucket } = bucketAndArgs(args, o.bucket, []);
      const ctx = await contextOf(cmd, io);
      const page = await ctx.client.get<Page & { sources: Source[] }>(`/${seg(bucket)}/sources`, { page_size: o.pageSize, page_token: o.pageToken });
      ctx.show(page, () => sourceTable(page.sources) + pageFooter(page, page.sources.length));
    });

  sources
    .command('get')
    .description('show a source: settings, state and counters')
    .usage('[options] [bucket] <sourceId>')
    .argument('[args...]')
    .option(...bucketOption)
    .action(async (args: string[], o: BucketOption, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['sourceId']);
      const ctx = await contextOf(cmd, io);
      const source = await ctx.client.get<Source>(sourcePath(bucket, rest[0]!));
      ctx.show(source, () => sourceFields(source));
    });

  sources
    .command('create')
    .description('create a source from a JSON or YAML file (the POST /:bucket/sources body)')
    .usage('[options] [bucket] --file <path>')
    .argument('[args...]')
    .option(...bucketOption)
    .requiredOption('-f, --file <path>', 'source definition: .json, .yaml/.yml, or - for standard input')
    .action(async (args: string[], o: BucketOption & { file: string }, cmd: Command) => {
      const { bucket } = bucketAndArgs(args, o.bucket, []);
      const body = await readSourceFile(o.file);
      const ctx = await contextOf(cmd, io);
      const source = await ctx.client.post<Source>(`/${seg(bucket)}/sources`, body);
      ctx.show(source, () => `created source ${inert(source.sourceId)} (${inert(source.name)}) in bucket ${inert(source.bucket)}\n`);
    });

  sources
    .command('update')
    .description('change a source from a JSON or YAML file (PATCH: absent fields are left alone)')
    .usage('[options] [bucket] <sourceId> --file <path>')
    .argument('[args...]')
    .option(...bucketOption)
    .requiredOption('-f, --file <path>', 'the fields to change: .json, .yaml/.yml, or - for standard input')
    .action(async (args: string[], o: BucketOption & { file: string }, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['sourceId']);
      const body = await readSourceFile(o.file);
      const ctx = await contextOf(cmd, io);
      const source = await ctx.client.patch<Source>(sourcePath(bucket, rest[0]!), body);
      ctx.show(source, () => `updated source ${inert(source.sourceId)}; the change takes effect on its next cycle\n`);
    });

  sources
    .command('delete')
    .description('stop its workflows and delete a source (objects already in the lake are kept unless --purge)')
    .usage('[options] [bucket] <sourceId>')
    .argument('[args...]')
    .option(...bucketOption)
    .option('--purge', 'also remove the objects it brought into the lake (a durable background workflow)')
    .action(async (args: string[], o: BucketOption & { purge?: boolean }, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['sourceId']);
      const ctx = await contextOf(cmd, io);
      const res = await ctx.client.delete<{ purge?: { workflowId: string; objects: number } } | undefined>(
        sourcePath(bucket, rest[0]!),
        o.purge ? { purge: 'true' } : undefined,
      );
      ctx.done(
        res?.purge
          ? `deleted source ${rest[0]!}; removing its ${res.purge.objects} objects from the lake (workflow ${res.purge.workflowId})`
          : `deleted source ${rest[0]!}`,
        res,
      );
    });

  sources
    .command('pause')
    .description('pause a source: no scheduled or requested run starts until it is resumed')
    .usage('[options] [bucket] <sourceId>')
    .argument('[args...]')
    .option(...bucketOption)
    .option('--reason <text>', 'why, shown in its status')
    .action(async (args: string[], o: BucketOption & { reason?: string }, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['sourceId']);
      const ctx = await contextOf(cmd, io);
      const res = await ctx.client.post(sourcePath(bucket, rest[0]!, '/pause'), o.reason === undefined ? {} : { reason: o.reason });
      ctx.done(`paused source ${rest[0]!}`, res);
    });

  sources
    .command('resume')
    .description('resume a paused or suspended source')
    .usage('[options] [bucket] <sourceId>')
    .argument('[args...]')
    .option(...bucketOption)
    .action(async (args: string[], o: BucketOption, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['sourceId']);
      const ctx = await contextOf(cmd, io);
      const res = await ctx.client.post(sourcePath(bucket, rest[0]!, '/resume'), {});
      ctx.done(`resumed source ${rest[0]!}`, res);
    });
}
