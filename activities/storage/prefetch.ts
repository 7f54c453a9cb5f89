import type { TenantShare } from '../tenant-share.js';
import type { ListedPage, SourceReader } from './types.js';

/**
 * Starts listing a page now, to be awaited later. A page never awaited (the
 * scan failed or was cancelled first) fails silently rather than as an
 * unhandled rejection; one awaited fails there.
 */
function prefetch(reader: SourceReader, afterKey: string | null, pageSize: number): Promise<ListedPage> {
  const page = reader.listPage(afterKey, pageSize);
  page.catch(() => undefined);
  return page;
}

/**
 * A scan's listing, page by page, with the next page listed while this one
 * commits, so the source and Postgres work at once. A scan the tenant share
 * holds back (activities/tenant-share.ts) is paced after each page and lists
 * the next one only after its pause.
 */
export class PagedListing {
  private next: Promise<ListedPage> | null;
  private began = 0;
  private ahead = true;

  constructor(
    private readonly reader: SourceReader,
    private readonly pageSize: number,
    private readonly tenants: TenantShare,
    /** The organisation the scan runs for (its fairness key), if known. */
    private readonly org: string | undefined,
    from: string | null,
  ) {
    this.next = prefetch(reader, from, pageSize);
  }

  /** The next page (through `clip`, e.g. to a shard's range); the one after it starts listing at once unless held back. */
  async take(clip: (raw: ListedPage) => ListedPage = (raw) => raw): Promise<ListedPage> {
    this.began = performance.now();
    if (!this.next) throw new Error('the listing has no next page');
    const page = clip(await this.next);
    this.ahead = !(this.org !== undefined && this.tenants.heldBack(this.org));
    this.next = page.nextAfterKey !== null && this.ahead ? prefetch(this.reader, page.nextAfterKey, this.pageSize) : null;
    return page;
  }

  /** The page `take` gave has committed: a held-back scan pauses, then lists what follows `nextAfterKey`. */
  async committed(nextAfterKey: string | null): Promise<void> {
    if (nextAfterKey === null) return;
    await this.tenants.pace(this.org, performance.now() - this.began);
    if (!this.ahead) this.next = prefetch(this.reader, nextAfterKey, this.pageSize);
  }
}
