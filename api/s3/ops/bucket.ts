// Bucket operations: HeadBucket, GetBucketLocation, and CreateBucket / DeleteBucket for keys with the admin
// scope (the same lifecycle as the admin routes).
import { BucketName } from '../../routes/buckets.js';
import { createBucket as createBucketRow, deleteEmptyBucket } from '../../bucket-lifecycle.js';
import { keyMay, keyReaches, requestBucket } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { parseXml, readCapped, sendXml } from '../xml.js';

export async function headBucket(ctx: S3Context): Promise<void> {
  await requestBucket(ctx, 'read');
  ctx.res.setHeader('x-amz-bucket-region', ctx.region);
  ctx.res.status(200).end();
}

export async function getBucketLocation(ctx: S3Context): Promise<void> {
  await requestBucket(ctx, 'read');
  const region = ctx.region;
  // us-east-1 is S3's empty location constraint.
  sendXml(ctx.res, 200, 'LocationConstraint', region === 'us-east-1' ? {} : { '#text': region });
}

export async function createBucket(ctx: S3Context): Promise<void> {
  const name = ctx.bucket!;
  if (!keyMay(ctx, 'admin') || !keyReaches(ctx, name)) throw S3Error.accessDenied();
  const checked = BucketName.safeParse(name);
  if (!checked.success) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
  const body = await readCapped(ctx.body(), 64 * 1024);
  if (body.length > 0) {
    const config = parseXml(body, 'CreateBucketConfiguration');
    const wanted = config.LocationConstraint;
    if (typeof wanted === 'string' && wanted !== '' && wanted !== ctx.region) {
      throw new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', { LocationConstraint: wanted });
    }
  }
  const row = await createBucketRow(ctx.deps, ctx.caller.org, name);
  if (!row) {
    // Whose it is tells nothing more than S3 tells: its own bucket, or a name someone holds. Looked up again, not
    // from the request's first lookup: a create racing this one may have made it since.
    const own = await requestBucket({ ...ctx, named: null }, 'read').then(
      () => true,
      () => false,
    );
    throw own
      ? new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name })
      : new S3Error('BucketAlreadyExists', 'The requested bucket name is not available. Please select a different name and try again.', { BucketName: name });
  }
  ctx.res.setHeader('Location', `/${name}`);
  ctx.res.status(200).end();
}

export async function deleteBucket(ctx: S3Context): Promise<void> {
  const bucket = await requestBucket(ctx, 'admin');
  const refused = await deleteEmptyBucket(ctx.deps, bucket);
  if (refused?.refused === 'not-empty') throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: bucket.name });
  if (refused?.refused === 'sourced')
    throw new S3Error('BucketNotEmpty', `The bucket you tried to delete still has ${refused.sources} source(s); delete them first`, {
      BucketName: bucket.name,
    });
  ctx.res.status(204).end();
}
