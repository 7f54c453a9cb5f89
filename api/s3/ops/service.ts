// ListBuckets: the organisation's buckets the key reaches.
import { asc, eq } from 'drizzle-orm';
import { buckets } from '../../../db/schema.js';
import { keyMay, keyReaches } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { sendXml } from '../xml.js';

export async function listBuckets(ctx: S3Context): Promise<void> {
  if (!keyMay(ctx, 'read')) throw S3Error.accessDenied();
  const rows = await ctx.deps.db.select().from(buckets).where(eq(buckets.orgId, ctx.caller.org)).orderBy(asc(buckets.name));
  sendXml(ctx.res, 200, 'ListAllMyBucketsResult', {
    Owner: { ID: ctx.caller.org, DisplayName: ctx.caller.org },
    Buckets: { Bucket: rows.filter((b) => keyReaches(ctx, b.name)).map((b) => ({ Name: b.name, CreationDate: b.createdAt })) },
  });
}
