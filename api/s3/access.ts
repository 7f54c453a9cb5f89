// What an access key may reach: its organisation's buckets (all, or the ones it is limited to), with the
// scope the operation needs. Another organisation's bucket answers exactly as a missing one.
import { and, eq } from 'drizzle-orm';
import { buckets } from '../../db/schema.js';
import type { Scope } from '../auth.js';
import type { S3Context } from './context.js';
import { S3Error } from './errors.js';

export type BucketRow = typeof buckets.$inferSelect;

export const keyMay = (ctx: Pick<S3Context, 'caller'>, scope: Scope): boolean => ctx.caller.scopes.includes(scope) || ctx.caller.scopes.includes('admin');

export const keyReaches = (ctx: Pick<S3Context, 'caller'>, bucketName: string): boolean =>
  ctx.caller.buckets === null || ctx.caller.buckets.includes(bucketName);

/** The request's bucket, for an operation needing `scope`: NoSuchBucket when it is not the caller's organisation's, AccessDenied beyond the key's reach. */
export async function requestBucket(ctx: Pick<S3Context, 'deps' | 'bucket' | 'named' | 'caller'>, scope: Scope): Promise<BucketRow> {
  const name = ctx.bucket!;
  const [bucket] =
    ctx.named?.name === name
      ? [ctx.named.bucket]
      : await ctx.deps.db
          .select()
          .from(buckets)
          .where(and(eq(buckets.name, name), eq(buckets.orgId, ctx.caller.org)));
  if (!bucket) throw S3Error.noSuchBucket(name);
  if (!keyReaches(ctx, name) || !keyMay(ctx, scope)) throw S3Error.accessDenied();
  return bucket;
}
