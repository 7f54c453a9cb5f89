import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Db } from '../db/client.js';

/** The correlation fields an activity's input names, as the API and workflows log them. */
interface Correlation {
  sourceId?: string;
  jobId?: string;
  syncId?: string;
  bucket?: string;
}

/**
 * Every `Context.current().log` line (and the SDK's own activity lines) gets
 * the bucket, source, job and upload sync its activity works for, beside the
 * SDK's workflowId and activity attributes — without each activity passing
 * them. The task token is dropped: it is a capability to complete the
 * activity, not something for log storage.
 */
export function activityLogContext(db: Db): ActivityInterceptorsFactory {
  const buckets = bucketNames(db);
  return () => {
    const fields: Correlation = {};
    return {
      inbound: {
        async execute(input, next) {
          const arg = input.args[0] as Record<string, unknown> | undefined;
          for (const key of ['sourceId', 'jobId', 'syncId'] as const) if (typeof arg?.[key] === 'string') fields[key] = arg[key];
          if (fields.sourceId) fields.bucket = await buckets(fields.sourceId);
          return next(input);
        },
      },
      outbound: {
        getLogAttributes(input, next) {
          const { taskToken: _capability, ...attributes } = input;
          return next({ ...attributes, ...fields });
        },
      },
    };
  };
}

/** A source's bucket never changes: one lookup per source per worker, and never an activity failed by it. */
function bucketNames(db: Db): (sourceId: string) => Promise<string | undefined> {
  const cache = new Map<string, string>();
  return async (sourceId) => {
    const hit = cache.get(sourceId);
    if (hit) return hit;
    const rows = await db.$client<{ name: string }[]>`select b.name from sources s join buckets b on b.id = s.bucket_id where s.id = ${sourceId}`.catch(
      () => [],
    );
    const name = rows[0]?.name;
    if (name) {
      if (cache.size >= 10_000) cache.clear();
      cache.set(sourceId, name);
    }
    return name;
  };
}
