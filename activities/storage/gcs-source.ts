import type { Readable } from 'node:stream';
import type { GcsConnection } from '../../domain/gcs-source.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';
import { contentHashFromEtag } from '../../lake/hashing.js';
import type { GcsClient, GcsObject } from './gcs-client.js';
import type { ListedPage, SourceReader } from './types.js';

/**
 * The change token: the object's MD5 (hex), as an S3 etag is, so rewriting
 * the same bytes is no change and the lake can tell content it already holds;
 * objects without one (composite uploads) are known by their generation,
 * which every rewrite changes.
 */
export function gcsEtag(o: Pick<GcsObject, 'md5Hash' | 'generation'>): string {
  return o.md5Hash ? Buffer.from(o.md5Hash, 'base64').toString('hex') : `generation-${o.generation}`;
}

/** Lists and reads a Cloud Storage bucket under a prefix; keys are relative to the prefix. */
export class GcsSourceReader implements SourceReader {
  constructor(
    private readonly client: GcsClient,
    private readonly conn: GcsConnection,
  ) {}

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const prefix = this.conn.prefix;
    // startOffset is inclusive: ask for one more, and drop the key the last page ended on.
    const after = afterKey === null ? null : prefix + afterKey;
    const maxResults = Math.min(pageSize, 1000) + (after === null ? 0 : 1);
    const res = await this.client.list(this.conn.bucket, { prefix, startOffset: after, maxResults });
    const items = (res.items ?? []).filter((o) => o.name !== after);
    const objects = items
      .filter((o) => !o.name.endsWith('/'))
      .map((o) => ({
        key: o.name.slice(prefix.length),
        etag: gcsEtag(o),
        size: Number(o.size),
        lastModified: o.updated ? new Date(o.updated) : null,
      }));
    const last = items.at(-1)?.name;
    return { objects, nextAfterKey: res.nextPageToken && last ? last.slice(prefix.length) : null };
  }

  openRead(key: string): Promise<{ body: Readable; contentType?: string }> {
    return this.client.download(this.conn.bucket, this.conn.prefix + key);
  }

  /** Custom metadata keys compare case-insensitively, as S3's and Azure's do. */
  async head(key: string): Promise<ObjectHead | null> {
    const o = await this.client.stat(this.conn.bucket, this.conn.prefix + key);
    if (o === null) return null;
    const metadata = Object.fromEntries(Object.entries(o.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    return { contentType: o.contentType ?? null, metadata };
  }

  async contentHash(_key: string, etag: string): Promise<string | null> {
    return contentHashFromEtag(etag);
  }
}
