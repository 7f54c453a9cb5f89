import type { ISql } from 'postgres';
import * as catalog from '../catalog/index.js';

/**
 * A scan attempt's quiet pages (catalog/quiet-page.ts): each page that may be
 * quiet is checked and, if it is, committed in one statement. A page is hashed
 * only while the page before it held as many rows in its range as it listed:
 * a first scan's pages (empty ranges) cost no hashing, and a resync past a
 * changed page hashes again from the next one on.
 */
export class QuietPages {
  private hashing = true;

  constructor(private readonly sql: ISql) {}

  /** 'changed': the caller runs the full diff and moves the cursor itself. */
  async commit(
    ref: catalog.ScanRef,
    pass: number,
    range: { from: string | null; to: string | null },
    matched: readonly catalog.Listed[],
    unmatched: readonly catalog.Listed[],
    move: catalog.CursorMove,
  ): Promise<'committed' | 'superseded' | 'changed'> {
    // A full sync owes every object; objects outside the filters are recordFiltered's.
    if (ref.fullSync || unmatched.length > 0) return 'changed';
    const digest = this.hashing ? catalog.pageDigest(matched) : null;
    const page = await catalog.commitQuietPage(this.sql, ref, pass, range, matched.length, digest, move);
    this.hashing = page.rows === matched.length;
    if (!page.quiet) return 'changed';
    return page.moved ? 'committed' : 'superseded';
  }
}
