import type { Readable } from 'node:stream';
import type { S3Location } from '../../lake/types.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';

/** One object as a source lists it. `key` is relative to the source's prefix or root. */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
  lastModified: Date | null;
}

export interface ListedPage {
  objects: ListedObject[];
  /** Resume point for the next page; null when the listing is complete. */
  nextAfterKey: string | null;
}

export interface SourceReader {
  /** Lists keys strictly after `afterKey` in byte order, one page at a time. */
  listPage(afterKey: string | null, pageSize: number): Promise<ListedPage>;
  /** `size` when the reader knows the size of what it opened (it may differ from the listing's). */
  openRead(key: string): Promise<{ body: Readable; contentType?: string; size?: number }>;
  /** What metadata filters read (a HEAD for S3); null when the object has gone since it was listed. */
  head(key: string): Promise<ObjectHead | null>;
  /** The content identity (`md5:<hex>`) without copying, or null when it can't be known cheaply. */
  contentHash(key: string, etag: string): Promise<string | null>;
  /**
   * One key as a listing would show it, or null when it is not there (a
   * targeted run after a change notification). Only kinds whose registry
   * entry takes notifications have it.
   */
  stat?(key: string): Promise<ListedObject | null>;
  /** Where the object lives, when it is in S3, so the lake can copy it server-side. */
  s3Location?(key: string): S3Location;
}
