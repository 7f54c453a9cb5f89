import { z } from 'zod';

/**
 * Sharded discovery, the pure half: how many key-range shards a scan splits
 * into and where their boundaries fall. A shard lists the keys in
 * (after, upTo] — null is unbounded — so any string can be a boundary and the
 * ranges of one scan partition the whole key space whatever keys exist.
 */

export const MAX_SHARDS = 64;

/** The `shards` source setting: absent means automatic. */
export const ShardsSetting = z.number().int().min(1).max(MAX_SHARDS);

export interface ShardRange {
  after: string | null;
  upTo: string | null;
}

/** Keys a shard lists beyond which another shard pays off. */
export const KEYS_PER_AUTO_SHARD = 10_000;
/** The automatic count stops here: listing is I/O-bound, and each shard holds a worker's activity slot. */
export const MAX_AUTO_SHARDS = 8;

/**
 * The automatic shard count: one shard per 10,000 keys the source's last
 * complete scan listed, at least 1 (a new or small source scans as one
 * stream) and at most 8.
 */
export function autoShardCount(lastListed: number): number {
  return Math.max(1, Math.min(MAX_AUTO_SHARDS, Math.floor(lastListed / KEYS_PER_AUTO_SHARD)));
}

/** A shard of a complete scan: its range and how many keys it listed. */
export interface ListedShard extends ShardRange {
  listed: number;
}

/** How much more than the mean the largest shard of a kept split may have listed: a scan takes as long as its largest shard. */
const KEPT_SPLIT_SLACK = 1.1;

/**
 * The last complete scan's split, kept when it still fits: as many shards as
 * this scan wants, none of which listed more than 1.1 times their mean. Then
 * its ranges serve again and the catalog is not read in order to sample new
 * cuts (about 30 ms for 20,000 keys, seconds for millions). A split the keys
 * have outgrown (keys appended past the last cut, a prefix emptied) is
 * resampled by the next scan.
 */
export function keptSplit(last: readonly ListedShard[], count: number): ShardRange[] | null {
  if (count < 2 || last.length !== count) return null;
  const mean = last.reduce((n, s) => n + s.listed, 0) / count;
  if (mean === 0 || last.some((s) => s.listed > mean * KEPT_SPLIT_SLACK)) return null;
  return last.map(({ after, upTo }) => ({ after, upTo }));
}

/** Byte (UTF-8) order, as S3 lists keys and as Postgres compares them under collate "C". */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Where to cut for up to `count` shards at group starts: `starts` are keys
 * (top-level prefixes, directory names) at which a shard may begin; each cut
 * is the start itself, so the keys under it (all of which sort after it) fall
 * in the next shard. Starts are cut evenly by number, not by how many keys
 * each holds (the catalog's samples do that once a scan has listed the keys).
 * Fewer distinct starts than shards means fewer shards.
 */
export function cutsAtGroups(starts: readonly string[], count: number): string[] {
  const distinct = [...new Set(starts)].sort(compareKeys);
  // The first start opens the first shard: cutting before it would leave one all but empty.
  const n = Math.min(count, distinct.length);
  const cuts: string[] = [];
  for (let i = 1; i < n; i++) cuts.push(distinct[Math.floor((i * distinct.length) / n)]!);
  return cuts;
}

/** The ranges that cuts make: (null, c1], (c1, c2], …, (cn, null] — distinct cuts only, so no range is empty by construction. */
export function rangesFromCuts(cuts: readonly string[]): ShardRange[] {
  const sorted = [...new Set(cuts)].sort(compareKeys);
  const ranges: ShardRange[] = [];
  let after: string | null = null;
  for (const cut of sorted) {
    ranges.push({ after, upTo: cut });
    after = cut;
  }
  ranges.push({ after, upTo: null });
  return ranges;
}

/** Whether a key falls in a shard's range. */
export function inRange(range: ShardRange, key: string): boolean {
  return (range.after === null || compareKeys(key, range.after) > 0) && (range.upTo === null || compareKeys(key, range.upTo) <= 0);
}

/**
 * A listed page cut to a shard's upper bound: the keys past it belong to the
 * next shard (a listing cannot be told where to stop, so its last page may
 * run over). `nextAfterKey` null: the shard has listed its whole range.
 */
export function withinShard<T extends { key: string }>(
  objects: readonly T[],
  nextAfterKey: string | null,
  upTo: string | null,
): { objects: T[]; nextAfterKey: string | null } {
  if (upTo === null) return { objects: [...objects], nextAfterKey };
  // A listing comes in key order (cursors resume after a page's last key): a page whose last key is in the shard is
  // in it whole, and only the shard's last page is compared key by key.
  const lastKey = objects.at(-1)?.key;
  const kept = lastKey === undefined || compareKeys(lastKey, upTo) <= 0 ? [...objects] : objects.filter((o) => compareKeys(o.key, upTo) <= 0);
  const done = nextAfterKey === null || compareKeys(nextAfterKey, upTo) >= 0;
  return { objects: kept, nextAfterKey: done ? null : nextAfterKey };
}
