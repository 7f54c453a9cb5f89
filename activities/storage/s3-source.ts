import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NotFound, type S3Client } from '@aws-sdk/client-s3';
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { S3Connection } from '../../domain/source-config.js';
import { contentHashFromEtag } from '../../lake/hashing.js';
import type { ListedObject, ListedPage, SourceReader } from './types.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';
import type { S3Location } from '../../lake/types.js';

import { S3Lister, urlDecodedKey } from './s3-listing.js';
import type { S3Credentials } from '../../domain/source-config.js';

/** Lists and reads an S3-compatible bucket under a prefix; keys are relative to the prefix. */
export class S3SourceReader implements SourceReader {
  /** Pages are listed on the lean path (s3-listing.ts); everything else goes through the SDK. */
  private lister: S3Lister | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly conn: S3Connection,
    private readonly creds: S3Credentials,
    /** `credentialIdentity` of what this reader reads with. */
    private readonly credentials: string,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** Resolved at the first listing, so settings the SDK's endpoint rules refuse fail the listing, as the SDK's own would. */
  private listing(): S3Lister {
    if (this.lister) return this.lister;
    // Where and how the SDK would send a request for this bucket: its endpoint rules pick the addressing style and signing region.
    const endpoint = this.client.config.endpointProvider({
      Bucket: this.conn.bucket,
      Region: this.conn.region,
      ForcePathStyle: this.conn.forcePathStyle,
      Endpoint: this.conn.endpoint,
      UseFIPS: false,
      UseDualStack: false,
      Accelerate: false,
    });
    const scheme = endpoint.properties?.authSchemes as { signingRegion?: string }[] | undefined;
    return (this.lister = new S3Lister({
      url: endpoint.url,
      region: scheme?.[0]?.signingRegion ?? this.conn.region,
      ...this.creds,
      dispatcher: this.dispatcher,
    }));
  }

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const prefix = this.conn.prefix;
    // URL-encoded keys (EncodingType url): XML cannot carry control characters, so a key holding one would come back altered.
    const res = await this.listing().page({ prefix, startAfter: afterKey === null ? undefined : prefix + afterKey, maxKeys: Math.min(pageSize, 1000) });
    const objects = res.contents
      .filter((o) => !o.key.endsWith('/'))
      .map((o) => ({
        key: o.key.slice(prefix.length),
        // S3 quotes etags; the quotes carry no information.
        etag: o.etag.replace(/"/g, ''),
        size: o.size,
        lastModified: o.lastModified,
      }));
    const lastRaw = res.contents.at(-1)?.key;
    return { objects, nextAfterKey: res.truncated && lastRaw ? lastRaw.slice(prefix.length) : null };
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
