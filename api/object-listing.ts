// One page of a bucket's listing with S3's semantics (prefix, delimiter, a page size counting keys and common
// prefixes alike), for both planes' ListObjects.
import { compareKeys } from '../lake/keys.js';
import type { LakeObjectHead, LakeStore } from '../lake/types.js';

/** After a common prefix, skip every key under it. */
const PAST = '\u{10FFFF}';

export interface ListedPage {
  objects: (LakeObjectHead & { key: string })[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix answered: where the next page resumes. */
  last: string | null;
}

/** The page after `resume` (a key or common prefix a previous page ended with; null from the start). */
export async function listObjectPage(
  lake: LakeStore,
  bucket: string,
  q: { prefix: string; delimiter?: string; resume: string | null; maxKeys: number },
): Promise<ListedPage> {
  const { prefix, delimiter, resume, maxKeys } = q;
  let after: string | null = resume === null ? null : delimiter && resume.endsWith(delimiter) ? resume + PAST : resume;
  const objects: ListedPage['objects'] = [];
  const commonPrefixes: string[] = [];
  let last: string | null = null;
  let truncated = false;
  // A lake that groups by the delimiter itself answers in one call; else keys are paged and grouped here.
  const grouped = delimiter ? await lake.listDelimited(bucket, prefix, delimiter, after, maxKeys) : null;
  if (grouped) {
    for (const e of grouped.entries) {
      if (e.kind === 'prefix') commonPrefixes.push(e.key);
      else objects.push(e);
    }
    truncated = grouped.more && grouped.entries.length > 0;
    last = grouped.entries.at(-1)?.key ?? null;
  }
  outer: while (!grouped) {
    const page = await lake.list(bucket, prefix, after, maxKeys + 1);
    for (const o of page.objects) {
      if (after !== null && compareKeys(o.key, after) <= 0) continue;
      if (objects.length + commonPrefixes.length === maxKeys) {
        truncated = true;
        break outer;
      }
      const rest = o.key.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && cut >= 0) {
        const common = prefix + rest.slice(0, cut + delimiter.length);
        commonPrefixes.push(common);
        last = common;
        after = common + PAST;
        continue outer;
      }
      objects.push(o);
      last = o.key;
      after = o.key;
    }
    if (!page.more) break;
  }
  return { objects, commonPrefixes, truncated, last };
}
