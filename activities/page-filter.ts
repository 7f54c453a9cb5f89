import pLimit from 'p-limit';
import { compileFilters } from '../domain/filters.js';
import { compileMetadataFilters } from '../domain/metadata-filters.js';
import type { FileFilters } from '../domain/source-config.js';
import type { ListedObject, SourceReader } from './storage/types.js';

/** A listed page split by the source's filters. */
export interface FilteredPage {
  matched: ListedObject[];
  unmatched: ListedObject[];
  /** Gone between the listing and its HEAD: treated as unlisted, so the scan sweeps them as deleted. */
  vanished: ListedObject[];
}

/** HEADs in flight per page: a page is at most 1,000 keys. */
const HEAD_CONCURRENCY = 16;

/**
 * The source's filters as one page-at-a-time check. Key, size, date and
 * extension filters cost nothing; metadata filters need a HEAD per object, so
 * they are asked only when set, and only about objects the others let
 * through. Every listed object is classified on every scan, so a change of
 * filters (or of an object's metadata) is seen by the next scan and
 * reconciled like any other drift.
 */
export function pageFilter(filters: FileFilters, reader: SourceReader): (objects: readonly ListedObject[]) => Promise<FilteredPage> {
  const cheap = compileFilters(filters);
  const rules = filters.metadataFilters ?? [];
  const byMetadata = compileMetadataFilters(rules);
  return async (objects) => {
    const verdicts = objects.map((o) => (cheap(o) ? ('matched' as Verdict) : ('unmatched' as Verdict)));
    if (rules.length > 0) {
      const limit = pLimit(HEAD_CONCURRENCY);
      await Promise.all(
        objects.map((o, i) =>
          verdicts[i] === 'matched'
            ? limit(async () => {
                const head = await reader.head(o.key);
                verdicts[i] = !head ? 'vanished' : byMetadata(head) ? 'matched' : 'unmatched';
              })
            : null,
        ),
      );
    }
    // Each list keeps the listing's (key) order.
    return {
      matched: objects.filter((_, i) => verdicts[i] === 'matched'),
      unmatched: objects.filter((_, i) => verdicts[i] === 'unmatched'),
      vanished: objects.filter((_, i) => verdicts[i] === 'vanished'),
    };
  };
}

type Verdict = keyof FilteredPage;
