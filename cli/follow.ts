import { SingleBar, Presets } from 'cli-progress';
import { JobSchema, TERMINAL_JOB_STATUSES, type Job } from './api-types.js';
import { seg } from './client.js';
import type { Ctx } from './context.js';
import { ApiRequestError, CliFailure } from './errors.js';
import { inert } from './output.js';
import { JOB_STATUS } from '../domain/statuses.js';

export interface FollowOptions {
  intervalMs: number;
  quiet: boolean;
}

const isTerminal = (j: Job): boolean => (TERMINAL_JOB_STATUSES as readonly string[]).includes(j.status);

interface Progress {
  update(job: Job): void;
  stop(): void;
}

const phase = (j: Job): string => {
  const status = inert(j.status.replace(/^JOB_STATUS_/, '').toLowerCase());
  return j.kind === 'discovery' && j.status === JOB_STATUS.running ? `${status}, ${j.objectsListed} listed` : status;
};

/** A live bar on the terminal: processed out of discovered, with indexed beside it. */
function barProgress(ctx: Ctx): Progress {
  const bar = new SingleBar(
    {
      format: '{bar} {percentage}% | processed {processed}/{discovered} | discovered {discovered} | indexed {indexed} | failed {failed} | {phase}',
      hideCursor: true,
      // followJob handles Ctrl-C itself, to say that the job keeps running.
      gracefulExit: false,
      clearOnComplete: false,
      stream: ctx.io.stdout as NodeJS.WritableStream,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(j) {
      const payload = { processed: j.objectsProcessed, discovered: j.objectsDiscovered, indexed: j.objectsIndexed, failed: j.objectsFailed, phase: phase(j) };
      // Nothing discovered yet reads as an empty bar (cli-progress shows 0 of 0 as full), and as a full one once the job is over.
      const total = Math.max(j.objectsDiscovered, 1);
      const value = j.objectsDiscovered === 0 ? (isTerminal(j) ? 1 : 0) : j.objectsProcessed;
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    },
    stop: () => void (started && bar.stop()),
  };
}

/** Off a terminal (or with --json): one plain line on stderr whenever something moved. */
function lineProgress(ctx: Ctx): Progress {
  let last = '';
  return {
    update(j) {
      const line = `${inert(j.jobId)}: ${phase(j)}; discovered ${j.objectsDiscovered}, processed ${j.objectsProcessed}, indexed ${j.objectsIndexed}, failed ${j.objectsFailed}`;
      if (line !== last) ctx.io.stderr.write(line + '\n');
      last = line;
    },
    stop() {},
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A restarting API or a blip on the network should not abandon a long sync's progress. */
const TRANSIENT_TRIES = 10;

/**
 * Polls the job until it ends and returns its final state. The job, not the
 * source's sync status, is what is polled: a discovery requested while
 * another runs is queued, and the status's counters would be the other job's.
 */
export async function followJob(ctx: Ctx, bucket: string, jobId: string, o: FollowOptions): Promise<{ job: Job; raw: unknown }> {
  const progress: Progress = o.quiet ? { update() {}, stop() {} } : ctx.interactive ? barProgress(ctx) : lineProgress(ctx);
  const onInterrupt = () => {
    progress.stop();
    ctx.io.stderr.write(`\ninterrupted: job ${jobId} keeps running; follow it with: lakesync jobs get ${bucket} ${jobId}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    let failures = 0;
    for (;;) {
      let raw: unknown;
      try {
        raw = await ctx.client.get(`/${seg(bucket)}/jobs/${seg(jobId)}`);
        failures = 0;
      } catch (err) {
        const transient = err instanceof CliFailure || (err instanceof ApiRequestError && err.status >= 500);
        if (!transient || ++failures >= TRANSIENT_TRIES) throw err;
        await sleep(o.intervalMs);
        continue;
      }
      const parsed = JobSchema.safeParse(raw);
      if (!parsed.success) throw new CliFailure(`job ${jobId}: unexpected answer from the API: ${parsed.error.issues[0]?.message}`);
      progress.update(parsed.data);
      if (isTerminal(parsed.data)) return { job: parsed.data, raw };
      await sleep(o.intervalMs);
    }
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** Exit 1 unless every object made it: a partial job dead-lettered some, which a script should notice. */
export function failureOf(job: Job, bucket: string): CliFailure | null {
  switch (job.status) {
    case JOB_STATUS.succeeded:
      return null;
    case JOB_STATUS.partial:
      return new CliFailure(
        `job ${job.jobId} finished partially: ${job.objectsFailed} object(s) dead-lettered; list them with: lakesync dead-letters ${bucket} ${job.sourceId}; replay them with: lakesync retry ${bucket} ${job.sourceId}`,
      );
    default:
      return new CliFailure(`job ${job.jobId} ended ${job.status}${job.error ? `: ${job.error}` : ''}`);
  }
}
