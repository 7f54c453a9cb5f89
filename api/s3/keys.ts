// An object key from an S3 request, refused with S3's error unless the lake can store it (lake/keys.ts).
import { lakeKeyProblem } from '../../lake/keys.js';
import type { S3Context } from './context.js';
import { S3Error } from './errors.js';

export function s3ObjectKey(ctx: Pick<S3Context, 'key'>): string {
  const key = ctx.key!;
  if (Buffer.byteLength(key, 'utf8') > 1024)
    throw new S3Error('KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: '1024', Size: String(Buffer.byteLength(key, 'utf8')) });
  const problem = lakeKeyProblem(key);
  if (problem) throw S3Error.invalidArgument('key', `Object key ${problem}: lakesync keys are paths that both lake kinds can store.`);
  return key;
}

/**
 * The key of a read or delete: a key no lake can store cannot be there, so it is simply absent (NoSuchKey for a
 * read, success for a delete), as S3 answers for any missing key; null then.
 */
export function s3ExistingKey(ctx: Pick<S3Context, 'key'>): string | null {
  const key = ctx.key!;
  return Buffer.byteLength(key, 'utf8') > 1024 || lakeKeyProblem(key) ? null : key;
}
