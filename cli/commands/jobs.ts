import { InvalidArgumentError, type Command } from 'commander';
import type { Job, Page } from '../api-types.js';
import { seg } from '../client.js';
import { bucketAndArgs, contextOf, pageSizeOption, type Io } from '../context.js';
import { jobFields, jobTable, pageFooter } from '../views.js';

const STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELED'];

/** `failed` or `JOB_STATUS_FAILED`, any case. */
function statusOption(v: string): string {
  const short = v.toUpperCase().replace(/^JOB_STATUS_/, '');
  if (!STATUSES.includes(short)) throw new InvalidArgumentError(`must be one of ${STATUSES.map((s) => s.toLowerCase()).join(', ')}`);
  return `JOB_STATUS_${short}`;
}

function kindOption(v: string): string {
  if (v !== 'discovery' && v !== 'ingestion') throw new InvalidArgumentError('must be discovery or ingestion');
  return v;
}

export function registerJobs(program: Command, io: Io): void {
  const jobs = program.command('jobs').description('discovery and ingestion jobs of a bucket (`jobs <bucket>` lists them)');

  jobs
    .command('list', { isDefault: true })
    .description('list jobs, newest first')
    .usage('[options] [bucket]')
    .argument('[args...]')
    .option('-b, --bucket <bucket>', 'the bucket (instead of the first argument)')
    .option('-s, --source <sourceId>', 'only this source')
    .option('--status <status>', `only jobs in this status (${STATUSES.map((s) => s.toLowerCase()).join(', ')})`, statusOption)
    .option('--kind <kind>', 'only discovery or ingestion jobs', kindOption)
    .option('--page-size <n>', 'jobs per page (API default 50)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous list')
    .action(
      async (args: string[], o: { bucket?: string; source?: string; status?: string; kind?: string; pageSize?: number; pageToken?: string }, cmd: Command) => {
        const { bucket } = bucketAndArgs(args, o.bucket, []);
        const ctx = await contextOf(cmd, io);
        const page = await ctx.client.get<Page & { jobs: Job[] }>(`/${seg(bucket)}/jobs`, {
          source_id: o.source,
          status: o.status,
          kind: o.kind,
          page_size: o.pageSize,
          page_token: o.pageToken,
        });
        ctx.show(page, () => jobTable(page.jobs) + pageFooter(page, page.jobs.length));
      },
    );

  jobs
    .command('get')
    .description('one job with its counters, timings and failed objects')
    .usage('[options] [bucket] <jobId>')
    .argument('[args...]')
    .option('-b, --bucket <bucket>', 'the bucket (instead of the first argument)')
    .action(async (args: string[], o: { bucket?: string }, cmd: Command) => {
      const { bucket, rest } = bucketAndArgs(args, o.bucket, ['jobId']);
      const ctx = await contextOf(cmd, io);
      const job = await ctx.client.get<Job>(`/${seg(bucket)}/jobs/${seg(rest[0]!)}`);
      ctx.show(job, () => jobFields(job));
    });
}
