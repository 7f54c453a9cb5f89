// DeleteObjects: up to 1,000 keys in one POST ?delete, each removed as DeleteObject removes it; quiet mode
// answers only the failures.
import { recordRemoval } from '../../push-source.js';
import { lakeKeyProblem } from '../../../lake/keys.js';
import { requestBucket } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { parseXml, readCapped, sendXml } from '../xml.js';

const MAX_KEYS = 1000;
/** 1,000 keys of 1,024 bytes in XML, escaped, with room to spare. */
const MAX_BODY = 8 * 1024 * 1024;

export async function deleteObjects(ctx: S3Context): Promise<void> {
  const bucket = await requestBucket(ctx, 'write');
  const h = ctx.req.headers;
  if (!h['content-md5'] && !Object.keys(h).some((n) => n.startsWith('x-amz-checksum-')) && !h['x-amz-trailer']) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 or x-amz-checksum-*');
  }
  const doc = parseXml(await readCapped(ctx.body(), MAX_BODY), 'Delete');
  const objects = (doc.Object ?? []) as { Key?: unknown; VersionId?: unknown }[];
  if (!Array.isArray(objects) || objects.length === 0 || objects.some((o) => typeof o?.Key !== 'string')) {
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  }
  if (objects.length > MAX_KEYS) throw new S3Error('MalformedXML', `The request may name at most ${MAX_KEYS} keys.`);
  const quiet =
    String(doc.Quiet ?? 'false')
      .trim()
      .toLowerCase() === 'true';
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    const key = o.Key as string;
    if (o.VersionId !== undefined && o.VersionId !== 'null') {
      errors.push({ Key: key, Code: 'NotImplemented', Message: 'lakesync keeps no object versions' });
      continue;
    }
    // A key no lake can hold is not there: deleting it succeeds, as S3 deletes a missing key.
    if (lakeKeyProblem(key) === null) {
      try {
        await ctx.deps.lake.delete(bucket.name, key);
        await recordRemoval(ctx.deps, bucket, key);
      } catch (err) {
        ctx.deps.log.warn({ err, requestId: ctx.requestId }, 'DeleteObjects: one key failed');
        errors.push({ Key: key, Code: 'InternalError', Message: 'We encountered an internal error. Please try again.' });
        continue;
      }
    }
    deleted.push({ Key: key });
  }
  sendXml(ctx.res, 200, 'DeleteResult', { Deleted: quiet ? [] : deleted, Error: errors });
}
