/**
 * Table sources, whatever the database: each row is one JSON object, keyed
 * `<key column's text>.json`, listed by a keyset scan in the keys' byte order
 * (the order the catalog, checkpoints and sweeps compare keys in), so a scan
 * resumes after the last key it committed — the last primary key, as
 * Mixpeek's `resume_last_primary_key` — and rows gone from the table are
 * swept like deleted objects. A database is one TableDialect: Postgres's is
 * postgres-table.ts; another (Snowflake) is one more dialect on this scan.
 */
import { Readable } from 'node:stream';
import type { ObjectHead } from '../../domain/metadata-filters.js';
import type { ListedPage, SourceReader } from './types.js';

/** One row as a page lists it. */
export interface TableRow {
  key: string;
  /** The change token: the version column's text, or a hash of the row's content. */
  etag: string;
  /** The bytes of the row's object. */
  size: number;
}

export interface TableDialect {
  /** Up to `limit` rows whose keys sort after `afterKey` in byte order, in that order. */
  page(afterKey: string | null, limit: number): Promise<TableRow[]>;
  /** The row's object (UTF-8 JSON), or null when the row is gone. */
  content(key: string): Promise<Buffer | null>;
  /** The content's identity (`md5:<hex>`) when the change token is a content hash, else null. */
  contentHash(etag: string): string | null;
}

/** An error of a table source, with a code lakesync classifies and a message that never holds a credential. */
export class TableSourceError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'TableSourceError';
  }
}

export const KEY_SUFFIX = '.json';

export class TableSourceReader implements SourceReader {
  constructor(private readonly dialect: TableDialect) {}

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    // One row more than the page says whether another page follows, without a query that finds nothing.
    const rows = await this.dialect.page(afterKey, pageSize + 1);
    const kept = rows.slice(0, pageSize);
    return {
      objects: kept.map((r) => ({ key: r.key, etag: r.etag, size: r.size, lastModified: null })),
      nextAfterKey: rows.length > pageSize ? (kept.at(-1)?.key ?? null) : null,
    };
  }

  async openRead(key: string): Promise<{ body: Readable; contentType?: string; size?: number }> {
    const content = await this.dialect.content(key);
    if (content === null) throw new TableSourceError('the row is no longer in the table', 'RowNotFound');
    return { body: Readable.from([content]), contentType: 'application/json', size: content.length };
  }

  /**
   * Rows carry no user metadata: metadata filters see the content type only.
   * A row deleted since the listing is found when it is read, not here (a query per row would double a scan's cost).
   */
  async head(_key: string): Promise<ObjectHead | null> {
    return { contentType: 'application/json', metadata: {} };
  }

  async contentHash(_key: string, etag: string): Promise<string | null> {
    return this.dialect.contentHash(etag);
  }
}
