import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NotFound, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { S3Connection } from '../../domain/source-config.js';
import { contentHashFromEtag } from '../../lake/hashing.js';
import type { ListedObject, ListedPage, SourceReader } from './types.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';
import type { S3Location } from '../../lake/types.js';

/** A key from a listing made with `EncodingType: 'url'` (form encoding: `+` is a space). */
const urlDecodedKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/** Lists and reads an S3-compatible bucket under a prefix; keys are relative to the prefix. */
export class S3SourceReader implements SourceReader {
  constructor(
    private readonly client: S3Client,
    private readonly conn: S3Connection,
    /** `credentialIdentity` of what this reader reads with. */
    private readonly credentials: string,
  ) {}

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const prefix = this.conn.prefix;
    const res = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.conn.bucket,
        Prefix: prefix || undefined,
        StartAfter: afterKey === null ? undefined : prefix + afterKey,
        MaxKeys: Math.min(pageSize, 1000),
        // XML cannot carry control characters: without this, a key holding one comes back altered and can never be read.
        EncodingType: 'url',
      }),
    );
    // A store that ignores EncodingType answers raw keys (and says so by leaving it out): decode only what was encoded.
    const encoded = res.EncodingType === 'url';
    const contents = (res.Contents ?? []).filter((o) => o.Key !== undefined).map((o) => ({ ...o, Key: encoded ? urlDecodedKey(o.Key!) : o.Key! }));
    const objects = contents
      .filter((o) => !o.Key.endsWith('/'))
      .map((o) => ({
        key: o.Key.slice(prefix.length),
        // S3 quotes etags; the quotes carry no information.
        etag: (o.ETag ?? '').replace(/"/g, ''),
        size: o.Size ?? 0,
        lastModified: o.LastModified ?? null,
      }));
    const lastRaw = contents.at(-1)?.Key;
    return { objects, nextAfterKey: res.IsTruncated && lastRaw ? lastRaw.slice(prefix.length) : null };
  }

  /**
   * Where a sharded scan may cut (domain/shards.ts): the prefix's first-level
   * common prefixes (`dir/`), from a delimiter listing of at most `maxPages`
   * pages. Cuts past the pages read are not offered: the last shard takes the rest.
   */
  async topLevelPrefixes(maxPages = 5): Promise<string[]> {
    const prefix = this.conn.prefix;
    const out: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.conn.bucket, Prefix: prefix || undefined, Delimiter: '/', ContinuationToken: token, EncodingType: 'url' }),
      );
      const encoded = res.EncodingType === 'url';
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix) out.push((encoded ? urlDecodedKey(p.Prefix) : p.Prefix).slice(prefix.length));
      if (!res.IsTruncated || !res.NextContinuationToken) break;
      token = res.NextContinuationToken;
    }
    return out;
  }

  async openRead(key: string): Promise<{ body: Readable; contentType?: string }> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.conn.bucket, Key: this.conn.prefix + key }));
    return { body: res.Body as Readable, contentType: res.ContentType };
  }

  /** ListObjectsV2 carries neither Content-Type nor user metadata: one HEAD per object asked about. */
  async head(key: string): Promise<ObjectHead | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.conn.bucket, Key: this.conn.prefix + key }));
      // The SDK strips `x-amz-meta-` and lower-cases the keys.
      const metadata = Object.fromEntries(Object.entries(res.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      return { contentType: res.ContentType ?? null, metadata };
    } catch (err) {
      if (err instanceof NotFound || (err as { name?: string }).name === 'NotFound') return null;
      throw err;
    }
  }

  /** HEAD: the etag and size a listing shows (a directory marker, as in listings, is no object). */
  async stat(key: string): Promise<ListedObject | null> {
    if (key === '' || key.endsWith('/')) return null;
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.conn.bucket, Key: this.conn.prefix + key }));
      return { key, etag: (res.ETag ?? '').replace(/"/g, ''), size: res.ContentLength ?? 0, lastModified: res.LastModified ?? null };
    } catch (err) {
      if (err instanceof NotFound || (err as { name?: string }).name === 'NotFound') return null;
      throw err;
    }
  }

  async contentHash(_key: string, etag: string): Promise<string | null> {
    return contentHashFromEtag(etag);
  }

  s3Location(key: string): S3Location {
    return { endpoint: this.conn.endpoint, bucket: this.conn.bucket, key: this.conn.prefix + key, credentials: this.credentials };
  }
}
