import { InvalidArgumentError, type Command } from 'commander';
import { TriggerResultSchema } from '../api-types.js';
import { seg } from '../client.js';
import { contextOf, type Ctx, type Io } from '../context.js';
import { CliFailure } from '../errors.js';
import { failureOf, followJob } from '../follow.js';
import { inert } from '../output.js';
import { jobFields } from '../views.js';

interface WaitOptions {
  wait: boolean;
  quiet?: boolean;
  interval: number;
}

function intervalOption(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 100 || n > 60_000) throw new InvalidArgumentError('must be a whole number of milliseconds from 100 to 60000');
  return n;
}

function waitOptions(cmd: Command): Command {
  return cmd
    .option('--no-wait', 'return once the API accepted the request, without following the job')
    .option('-q, --quiet', 'no progress bar or progress lines')
    .option('--interval <ms>', 'how often to poll the job', intervalOption, 1000);
}

/**
 * Follows the job a trigger returned, prints it (the final GET /:bucket/jobs/:jobId
 * with --json, a summary otherwise), and fails unless it succeeded.
 */
async function triggerAndFollow(ctx: Ctx, bucket: string, path: string, body: object, o: WaitOptions): Promise<void> {
  const raw = await ctx.client.post(path, body);
  const accepted = TriggerResultSchema.safeParse(raw);
  if (!accepted.success) throw new CliFailure(`unexpected answer from the API: ${accepted.error.issues[0]?.message}`);
  const { jobId, message } = accepted.data;
  if (!o.wait || jobId === null) {
    ctx.show(raw, () => `${inert(message)}${jobId ? ` (job ${inert(jobId)})` : ''}\n`);
    return;
  }
  if (!ctx.json && !o.quiet) ctx.io.stderr.write(`${inert(message)} (job ${inert(jobId)})\n`);
  const { job, raw: final } = await followJob(ctx, bucket, jobId, { intervalMs: o.interval, quiet: o.quiet === true });
  ctx.show(final, () => jobFields(job));
  const failure = failureOf(job, bucket);
  if (failure) throw failure;
}

export function registerSync(program: Command, io: Io): void {
  waitOptions(
    program
      .command('sync')
      .description('sync a source now (TriggerDiscovery) and follow the job to its end')
      .argument('<bucket>', 'the bucket')
      .argument('<sourceId>', 'the source')
      .option('--full', 'ignore the etag checkpoint and copy everything again (fullSync)')
      .option('--dry-run', 'list the source and count what a real run would do, with reads only'),
  ).action(async (bucket: string, sourceId: string, o: WaitOptions & { full?: boolean; dryRun?: boolean }, cmd: Command) => {
    const ctx = await contextOf(cmd, io);
    await triggerAndFollow(ctx, bucket, `/${seg(bucket)}/sources/${seg(sourceId)}/discover`, { fullSync: o.full === true, dryRun: o.dryRun === true }, o);
  });

  waitOptions(
    program
      .command('retry')
      .description('replay dead-lettered objects (TriggerIngestion with retryFailed) and follow the job')
      .argument('<bucket>', 'the bucket')
      .argument('<sourceId>', 'the source')
      .option('--object <sourceObjectId>', 'replay only this object (an id from dead-letters)'),
  ).action(async (bucket: string, sourceId: string, o: WaitOptions & { object?: string }, cmd: Command) => {
    const ctx = await contextOf(cmd, io);
    await triggerAndFollow(
      ctx,
      bucket,
      `/${seg(bucket)}/sources/${seg(sourceId)}/ingest`,
      { retryFailed: true, ...(o.object !== undefined ? { sourceObjectId: o.object } : {}) },
      o,
    );
  });
}
