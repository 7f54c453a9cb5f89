// What the S3 endpoint answers about a lake object: S3's ETag and the stored headers. An S3 lake answers both
// itself. A directory lake's etag is stat-derived, not S3's, so the catalog supplies the ETag S3 would give: the
// one recorded for a multipart upload, else the content's MD5 (a simple upload's ETag), with the headers stored.
import { lakeObjectRecords } from '../../catalog/index.js';
import type { LakeObjectHead } from '../../lake/types.js';
import type { ApiDeps } from '../deps.js';

export async function s3Heads<T extends LakeObjectHead & { key: string }>(deps: ApiDeps, bucketId: string, heads: T[]): Promise<T[]> {
  if (deps.lake.keepsMetadata || heads.length === 0) return heads;
  const records = await lakeObjectRecords(
    deps.db.$client,
    bucketId,
    heads.map((h) => h.key),
  );
  return heads.map((head) => {
    const record = records.get(head.key);
    if (!record) return head;
    const { etag, ...stored } = record.metadata ?? {};
    const md5 = record.contentHash?.startsWith('md5:') ? record.contentHash.slice(4) : null;
    return { ...head, ...stored, contentType: stored.contentType ?? head.contentType, etag: etag ?? md5 ?? head.etag };
  });
}

export async function s3Head(deps: ApiDeps, bucketId: string, key: string, head: LakeObjectHead): Promise<LakeObjectHead> {
  const [one] = await s3Heads(deps, bucketId, [{ ...head, key }]);
  const { key: _key, ...rest } = one!;
  return rest;
}
