import { ApplicationFailure, Context } from '@temporalio/activity';
import { FAILURE } from '../domain/failures.js';
import type { ActivityDeps } from './deps.js';
import { loadSource } from './source-context.js';
import type { ListedObject } from './storage/types.js';

export interface ScanInput {
  jobId: string;
  sourceId: string;
  fullSync: boolean;
}

export interface ScanResult {
  listed: number;
  discovered: number;
  deleted: number;
  resumedFrom: string | null;
}

/** What a scan heartbeats: enough to resume exactly where it stopped. */
interface ScanCheckpoint {
  pass: number;
  afterKey: string | null;
  listed: number;
}

export function discoveryActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  /**
   * Diffs one listing page against the etag checkpoint in one statement.
   * An object is owed to this job when it is new, its etag or size changed,
   * it was still owed from an earlier run, or this is a full sync. Counting
   * only rows not already owed to this job keeps re-processed pages exact.
   */
  async function diffPage(input: ScanInput, pass: number, page: ListedObject[]): Promise<number> {
    if (page.length === 0) return 0;
    return sql.begin(async (tx) => {
      const [row] = await tx<{ discovered: string }[]>`
        with input as (
          select * from jsonb_to_recordset(${JSON.stringify(page.map((o) => ({ key: o.key, etag: o.etag, size: o.size, last_modified: o.lastModified?.toISOString() ?? null })))}::jsonb)
            as t(key text, etag text, size bigint, last_modified timestamptz)
        ),
        prev as (
          select so.key, so.pending_job_id from source_objects so
          join input i on so.key = i.key collate "C"
          where so.source_id = ${input.sourceId}
        ),
        up as (
          insert into source_objects as so (id, source_id, key, etag, size, last_modified, status, seen_pass, pending_job_id, last_job_id)
          select 'sobj_' || replace(gen_random_uuid()::text, '-', ''), ${input.sourceId}, i.key, i.etag, i.size, i.last_modified, 'pending', ${pass}, ${input.jobId}, ${input.jobId}
          from input i
          on conflict (source_id, key) do update set
            seen_pass = excluded.seen_pass,
            etag = excluded.etag,
            size = excluded.size,
            last_modified = excluded.last_modified,
            updated_at = now(),
            attempts = case when so.pending_job_id is distinct from ${input.jobId}
              and (${input.fullSync}::boolean or so.status in ('pending', 'deleted') or so.etag <> excluded.etag or so.size <> excluded.size)
              then 0 else so.attempts end,
            status = case when ${input.fullSync}::boolean or so.status in ('pending', 'deleted') or so.etag <> excluded.etag or so.size <> excluded.size
              then 'pending' else so.status end,
            pending_job_id = case when ${input.fullSync}::boolean or so.status in ('pending', 'deleted') or so.etag <> excluded.etag or so.size <> excluded.size
              then ${input.jobId} else so.pending_job_id end
          returning so.key, so.pending_job_id
        )
        select count(*) filter (where up.pending_job_id = ${input.jobId} and (prev.key is null or prev.pending_job_id is distinct from ${input.jobId})) as discovered
        from up left join prev on prev.key = up.key collate "C"`;
      const discovered = Number(row?.discovered ?? 0);
      if (discovered > 0) {
        await tx`update jobs set objects_discovered = objects_discovered + ${discovered} where id = ${input.jobId}`;
        await tx`update sources set total_objects_discovered = total_objects_discovered + ${discovered} where id = ${input.sourceId}`;
      }
      return discovered;
    });
  }

  /** Mark-and-sweep: after a complete listing, what this pass did not see is gone. */
  async function sweep(input: ScanInput, pass: number): Promise<number> {
    return sql.begin(async (tx) => {
      const gone = await tx`
        update source_objects set status = 'deleted', pending_job_id = null, last_job_id = ${input.jobId}, updated_at = now()
        where source_id = ${input.sourceId} and seen_pass < ${pass} and status <> 'deleted'
        returning id`;
      if (gone.count > 0) await tx`update jobs set objects_deleted = objects_deleted + ${gone.count} where id = ${input.jobId}`;
      await tx`update sources set scan_pass = greatest(scan_pass, ${pass}) where id = ${input.sourceId}`;
      return gone.count;
    });
  }

  return {
    /**
     * Lists the whole source page by page, heartbeating the cursor after each
     * page; a retry after a crash reads the heartbeat and resumes there.
     */
    async scanSource(input: ScanInput): Promise<ScanResult> {
      const ctx = Context.current();
      const { source, reader } = await loadSource(deps, input.sourceId);
      const saved = ctx.info.heartbeatDetails as ScanCheckpoint | undefined;
      const cp: ScanCheckpoint = saved ?? { pass: source.scanPass + 1, afterKey: null, listed: 0 };
      const resumedFrom = saved ? saved.afterKey : null;
      let discovered = 0;
      for (;;) {
        const page = await reader.listPage(cp.afterKey, deps.listPageSize).catch(asPermanent);
        discovered += await diffPage(input, cp.pass, page.objects);
        cp.listed += page.objects.length;
        cp.afterKey = page.nextAfterKey ?? page.objects.at(-1)?.key ?? cp.afterKey;
        await sql`update jobs set objects_listed = ${cp.listed} where id = ${input.jobId}`;
        ctx.heartbeat(cp);
        if (page.nextAfterKey === null) break;
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('scan cancelled');
      }
      const deleted = await sweep(input, cp.pass);
      ctx.log.info('scan complete', { sourceId: input.sourceId, jobId: input.jobId, listed: cp.listed, discovered, deleted });
      return { listed: cp.listed, discovered, deleted, resumedFrom };
    },
  };
}

/** Errors that retrying within this run cannot fix; the controller tries again on its next poll. */
const PERMANENT_CODES = new Set(['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'PermanentRedirect', 'ENOENT', 'ENOTDIR', 'EACCES']);

function asPermanent(err: unknown): never {
  const e = err as { name?: string; code?: string; message?: string };
  const code = e.code ?? e.name ?? '';
  if (PERMANENT_CODES.has(code)) {
    throw ApplicationFailure.create({ type: FAILURE.sourceUnreachable, message: `${code}: ${e.message ?? 'source unreachable'}`, nonRetryable: true });
  }
  throw err;
}
