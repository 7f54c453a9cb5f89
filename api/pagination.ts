import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, asc, count, eq, gt, type InferSelectModel } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { text } from '../domain/text.js';
import { ApiError } from './errors.js';

export const PaginationQuery = z.object({
  page_size: z.coerce.number().int().min(0).max(1000).default(0),
  page_token: text().max(2048).optional(),
});

export const pageSize = (n: number): number => (n === 0 ? 50 : n);

/**
 * Opaque, tamper-evident cursors: the position is HMAC-signed, so a client
 * can hold a token but not forge or edit one.
 */
export class PageTokens {
  constructor(private readonly key: Buffer) {}

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, 16);
  }

  encode(scope: string, after: string): string {
    const body = Buffer.from(JSON.stringify({ s: scope, a: after })).toString('base64url');
    return `${body}.${this.mac(body).toString('base64url')}`;
  }

  /** Returns the position after which the next page starts, or null for the first page. */
  decode(scope: string, token: string | undefined, field = 'page_token'): string | null {
    if (!token) return null;
    const [body, sig] = token.split('.');
    const bad = ApiError.invalid(field, `is not a valid ${field.replace('_', ' ')}`);
    if (!body || !sig) throw bad;
    const expected = this.mac(body);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad;
    const parsed = JSON.parse(Buffer.from(body, 'base64url').toString()) as { s?: string; a?: string };
    if (parsed.s !== scope || typeof parsed.a !== 'string') throw bad;
    return parsed.a;
  }
}

/**
 * One page of a list ordered by id: `fetch` reads up to `limit` rows after the
 * cursor, `total` counts them all; the next token is signed for `scope`.
 */
export async function pageById<T extends { id: string }>(
  tokens: PageTokens,
  scope: string,
  q: z.infer<typeof PaginationQuery>,
  fetch: (after: string | null, limit: number) => Promise<T[]>,
  total: () => Promise<number>,
): Promise<{ page: T[]; nextPageToken: string; totalCount: number }> {
  const size = pageSize(q.page_size);
  const rows = await fetch(tokens.decode(scope, q.page_token), size + 1);
  const page = rows.slice(0, size);
  return { page, nextPageToken: rows.length > size ? tokens.encode(scope, page.at(-1)!.id) : '', totalCount: await total() };
}

/**
 * One page, by id, of the rows of `table` whose `owner` column is `ownerId`
 * (a bucket's sources, pipelines or rules; an organisation's buckets); tokens
 * are signed for `${name}:${ownerId}`.
 */
export function pageOwnedBy<T extends PgTable & { id: PgColumn }>(
  deps: { db: Db; pageTokens: PageTokens },
  table: T,
  owner: PgColumn,
  ownerId: string,
  name: string,
  q: z.infer<typeof PaginationQuery>,
): Promise<{ page: (InferSelectModel<T> & { id: string })[]; nextPageToken: string; totalCount: number }> {
  const { db } = deps;
  return pageById<InferSelectModel<T> & { id: string }>(
    deps.pageTokens,
    `${name}:${ownerId}`,
    q,
    (after, limit) =>
      db
        .select()
        .from(table as PgTable)
        .where(and(eq(owner, ownerId), after ? gt(table.id, after) : undefined))
        .orderBy(asc(table.id))
        // drizzle cannot follow a generic table through select(): the rows are the table's.
        .limit(limit) as unknown as Promise<(InferSelectModel<T> & { id: string })[]>,
    async () =>
      (
        await db
          .select({ n: count() })
          .from(table as PgTable)
          .where(eq(owner, ownerId))
      )[0]?.n ?? 0,
  );
}
