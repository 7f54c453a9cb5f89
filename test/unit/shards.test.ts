import { describe, expect, it } from 'vitest';
import { autoShardCount, compareKeys, cutsAtGroups, inRange, keptSplit, rangesFromCuts, ShardsSetting, withinShard } from '../../domain/shards.js';
import { seededRandom } from '../support/seed.js';

describe('shard boundaries', () => {
  it('cut at group starts: the first group opens the first shard, every cut is a start, fewer groups make fewer shards', () => {
    const groups = Array.from({ length: 20 }, (_, i) => `g${String(i).padStart(2, '0')}/`);
    expect(cutsAtGroups(groups, 4)).toEqual(['g05/', 'g10/', 'g15/']);
    expect(cutsAtGroups(groups.toReversed(), 4)).toEqual(['g05/', 'g10/', 'g15/']);
    expect(cutsAtGroups(['b/', 'a/', 'a/'], 8)).toEqual(['b/']);
    expect(cutsAtGroups(['only/'], 4)).toEqual([]);
    expect(cutsAtGroups([], 4)).toEqual([]);
    expect(cutsAtGroups(groups, 1)).toEqual([]);
  });

  it('ranges from cuts are (after, upTo], open at both ends, with duplicate cuts dropped', () => {
    expect(rangesFromCuts([])).toEqual([{ after: null, upTo: null }]);
    expect(rangesFromCuts(['m/', 'c/', 'm/'])).toEqual([
      { after: null, upTo: 'c/' },
      { after: 'c/', upTo: 'm/' },
      { after: 'm/', upTo: null },
    ]);
  });

  it('partition every key into exactly one shard, in byte order (not UTF-16 order)', () => {
    const random = seededRandom('shards.test.ts');
    const alphabet = ['a', 'b', 'z', '/', '-', 'é', '\uffff', '😀', '0', '~'];
    const key = () => Array.from({ length: random.int(1, 6) }, () => alphabet[random.int(0, alphabet.length - 1)]).join('');
    const keys = Array.from({ length: 2000 }, key);
    const groups = [...new Set(keys.map((k) => `${k.slice(0, 1)}/`))];
    for (const count of [2, 3, 4, 7, 64]) {
      const ranges = rangesFromCuts(cutsAtGroups(groups, count));
      expect(ranges.length).toBeLessThanOrEqual(count);
      for (const k of keys) expect(ranges.filter((r) => inRange(r, k)).length, `${JSON.stringify(k)} with ${count} shards`).toBe(1);
    }
    // U+FFFF is one UTF-16 unit below a surrogate pair's, but its UTF-8 bytes (ef bf bf) sort before 😀's (f0 9f 98 80).
    expect(compareKeys('\uffff', '😀')).toBeLessThan(0);
    expect(inRange({ after: '\uffff', upTo: null }, '😀')).toBe(true);
    // A group's keys sort after the group's start, so they fall in the shard it opens.
    expect(inRange({ after: 'g05/', upTo: 'g10/' }, 'g05/x')).toBe(true);
    expect(inRange({ after: null, upTo: 'g05/' }, 'g05/x')).toBe(false);
  });

  it("cut a listed page at the shard's upper bound: what is past it is the next shard's, and the shard is done", () => {
    const objs = (...keys: string[]) => keys.map((key) => ({ key }));
    expect(withinShard(objs('a', 'b', 'c'), 'c', 'b')).toEqual({ objects: objs('a', 'b'), nextAfterKey: null });
    expect(withinShard(objs('a', 'b'), 'b', 'b')).toEqual({ objects: objs('a', 'b'), nextAfterKey: null });
    expect(withinShard(objs('a', 'b'), 'b', 'c')).toEqual({ objects: objs('a', 'b'), nextAfterKey: 'b' });
    expect(withinShard(objs('a', 'b'), null, 'c')).toEqual({ objects: objs('a', 'b'), nextAfterKey: null });
    expect(withinShard(objs('a', 'b'), 'b', null)).toEqual({ objects: objs('a', 'b'), nextAfterKey: 'b' });
    // A listing can end its page on a key it does not return (an S3 folder marker): past the bound, the shard is done.
    expect(withinShard(objs('a'), 'd/', 'c')).toEqual({ objects: objs('a'), nextAfterKey: null });
  });

  it("keep the last scan's split only for as many shards, none of which listed more than 1.1 times their mean", () => {
    const split = (...listed: number[]) =>
      listed.map((n, i) => ({ after: i === 0 ? null : `k${i}`, upTo: i === listed.length - 1 ? null : `k${i + 1}`, listed: n }));
    expect(keptSplit(split(10_000, 10_003), 2)).toEqual([
      { after: null, upTo: 'k1' },
      { after: 'k1', upTo: null },
    ]);
    // The bound itself passes: mean 100, so 110 does and 111 does not; a small shard beside them costs no time.
    expect(keptSplit(split(90, 110, 100), 3)).not.toBeNull();
    expect(keptSplit(split(89, 111, 100), 3)).toBeNull();
    expect(keptSplit(split(110, 110, 110, 110, 60), 5)).not.toBeNull();
    // Keys appended past the last cut: the last shard outgrows the others.
    expect(keptSplit(split(100, 100, 100, 150), 4)).toBeNull();
    // Another count wanted, no sharded scan before, an empty one, or a single shard: sample instead.
    expect(keptSplit(split(100, 100), 4)).toBeNull();
    expect(keptSplit([], 2)).toBeNull();
    expect(keptSplit(split(0, 0), 2)).toBeNull();
    expect(keptSplit(split(100), 1)).toBeNull();
  });

  it('count automatically: one shard per 10,000 keys the last scan listed, 1 to 8', () => {
    expect(autoShardCount(0)).toBe(1);
    expect(autoShardCount(19_999)).toBe(1);
    expect(autoShardCount(20_000)).toBe(2);
    expect(autoShardCount(45_000)).toBe(4);
    expect(autoShardCount(100_000_000)).toBe(8);
  });

  it('take the shards setting as 1..64 whole numbers only', () => {
    for (const ok of [1, 4, 64]) expect(ShardsSetting.safeParse(ok).success).toBe(true);
    for (const bad of [0, 65, 2.5, -1, '4']) expect(ShardsSetting.safeParse(bad).success).toBe(false);
  });
});
