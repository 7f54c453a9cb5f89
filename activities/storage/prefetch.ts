import type { ListedPage, SourceReader } from './types.js';

/**
 * Starts listing a page now, to be awaited later, so a scan lists its next
 * page while the one before commits: the source and Postgres work at once. A
 * page never awaited (the scan failed or was cancelled first) fails silently
 * rather than as an unhandled rejection; one awaited fails there.
 */
export function prefetch(reader: SourceReader, afterKey: string | null, pageSize: number): Promise<ListedPage> {
  const page = reader.listPage(afterKey, pageSize);
  page.catch(() => undefined);
  return page;
}
