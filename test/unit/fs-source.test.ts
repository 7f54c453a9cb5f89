import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemSourceReader } from '../../activities/storage/fs-source.js';
import { compareUtf8, readDirEntries } from '../../lake/dir-walk.js';
import { compareKeys, lakeKeyProblem, joinKey } from '../../lake/keys.js';

/**
 * S3's order, written out by hand: UTF-8 bytes, not UTF-16 code units.
 * - '-' (2D) < '.' (2E) < '/' (2F) < '0' (30): directory `a` lists between file `a.txt` and file `a0`,
 *   not before `a-c` as a walk sorting entry names would put it.
 * - 'Z' (5A) < 'a' (61) < 'z' (7A) < 'é' (C3 A9) < 'ａ' U+FF41 (EF BD 81) < '～' U+FF5E (EF BD 9E) < '😀' U+1F600 (F0 9F 98 80):
 *   in UTF-16 the emoji's surrogate D83D sorts before FF41, so a plain `sort()` puts it first of the three.
 */
const BYTE_ORDER = ['Z', 'a-c', 'a.txt', 'a/b', 'a/z/deep.txt', 'a0', 'b', 'dir/x y.txt', 'z', 'é.txt', 'ａ.txt', '～', '😀.txt'];

describe('filesystem listing', () => {
  let root: string;
  // Written in neither order, so a listing that kept the creation order fails too.
  const keys = ['a-c', 'a/b', 'a/z/deep.txt', 'a.txt', 'b', 'Z', 'é.txt', '😀.txt', 'ａ.txt', 'dir/x y.txt', '～', 'z', 'a0'];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lakesync-fs-'));
    for (const k of keys) {
      await mkdir(join(root, k, '..'), { recursive: true });
      await writeFile(join(root, k), k);
    }
    await symlink('/etc/hostname', join(root, 'link-to-file'));
    await symlink('/etc', join(root, 'link-to-dir'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists keys in byte order, as S3 does, skipping symlinks', async () => {
    const page = await new FilesystemSourceReader(root).listPage(null, 100);
    expect(page.objects.map((o) => o.key)).toEqual(BYTE_ORDER);
    expect(page.nextAfterKey).toBeNull();
  });

  it('compares keys by their UTF-8 bytes, which UTF-16 order gets wrong past U+FFFF', () => {
    expect([...keys].sort(compareKeys)).toEqual(BYTE_ORDER);
    expect([...keys].sort(compareUtf8)).toEqual(BYTE_ORDER);
    // The pair that tells the two orders apart.
    expect(['😀', 'ａ'].sort()).toEqual(['😀', 'ａ']);
    expect(['😀', 'ａ'].sort(compareUtf8)).toEqual(['ａ', '😀']);
    expect(compareUtf8('～', '😀')).toBeLessThan(0);
    expect(compareUtf8('\uFFFF', '\u{10000}')).toBeLessThan(0);
    expect(compareUtf8('\uD7FF', '\uE000')).toBeLessThan(0);
    expect(compareUtf8('a', 'a')).toBe(0);
    expect(compareUtf8('a', 'a/')).toBeLessThan(0);
  });

  it('resumes after any key and pages to exactly the same sequence', async () => {
    const reader = new FilesystemSourceReader(root);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page = await reader.listPage(after, 3);
      seen.push(...page.objects.map((o) => o.key));
      if (page.nextAfterKey === null) break;
      after = page.nextAfterKey;
    }
    expect(seen).toEqual(BYTE_ORDER);
    // From every key, and from keys between them (a directory's own name, a key that is gone): the rest in order.
    const firstAfter: [string, string | undefined][] = [
      ...BYTE_ORDER.map((k, i): [string, string | undefined] => [k, BYTE_ORDER[i + 1]]),
      ['a', 'a-c'],
      ['a/', 'a/b'],
      ['a/c', 'a/z/deep.txt'],
      ['y', 'z'],
      ['\uFFFF', '😀.txt'],
    ];
    for (const [after, first] of firstAfter) {
      const page = await reader.listPage(after, 100);
      expect(
        page.objects.map((o) => o.key),
        `after ${after}`,
      ).toEqual(first === undefined ? [] : BYTE_ORDER.slice(BYTE_ORDER.indexOf(first)));
    }
  });

  it('gives a changed file a different etag', async () => {
    const reader = new FilesystemSourceReader(root);
    const before = (await reader.listPage(null, 100)).objects.find((o) => o.key === 'b')!;
    await writeFile(join(root, 'b'), 'different length');
    const after = (await reader.listPage(null, 100)).objects.find((o) => o.key === 'b')!;
    expect(after.etag).not.toBe(before.etag);
    expect(after.size).toBe('different length'.length);
  });

  it('leaves out a file gone since its directory was read (or out of reach), and fails the listing on any other error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-fs-errors-'));
    try {
      await writeFile(join(dir, 'kept'), 'x');
      const listing = (extra: string) =>
        new FilesystemSourceReader(dir, {
          readDir: async (path) => [...(await readDirEntries(path)), { name: extra, kind: 'file' }],
        }).listPage(null, 100);
      expect((await listing('vanished')).objects.map((o) => o.key)).toEqual(['kept']);
      expect((await listing('n'.repeat(300))).objects.map((o) => o.key)).toEqual(['kept']);
      // A name lstat refuses outright, standing for EACCES or EIO (which root, running the tests, does not meet):
      // left out, the file would be swept as deleted.
      await expect(listing('bad\0name')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('resumes a paused walk with files edited in place since the last page, not as it statted them ahead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-fs-flat-'));
    try {
      for (let i = 0; i < 20; i++) await writeFile(join(dir, `f${String(i).padStart(2, '0')}`), 'x');
      // Settled at once, so the next page resumes the paused walk rather than starting a new one.
      const reader = new FilesystemSourceReader(dir, { settledMs: -1_000_000 });
      const first = await reader.listPage(null, 2);
      expect(first.objects.map((o) => o.key)).toEqual(['f00', 'f01']);
      // Edited in place: no directory changes, so only statting again shows it.
      for (const f of ['f03', 'f05', 'f12']) await writeFile(join(dir, f), 'longer now');
      const rest = await reader.listPage(first.nextAfterKey, 100);
      expect(rest.objects.map((o) => o.key)).toEqual(Array.from({ length: 18 }, (_, i) => `f${String(i + 2).padStart(2, '0')}`));
      expect(rest.objects.filter((o) => o.size === 'longer now'.length).map((o) => o.key)).toEqual(['f03', 'f05', 'f12']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('lake keys', () => {
  it.each([
    ['', 'must not be empty'],
    ['../x', 'must not contain . or .. segments'],
    ['a/./b', 'must not contain . or .. segments'],
    ['/abs', 'must not start with /'],
    ['nul\0', 'must not contain control characters (U+0000 NUL at character 3)'],
    ['esc/\u001b[31mred', 'must not contain control characters (U+001B ESC at character 4)'],
    ['line\nbreak', 'must not contain control characters (U+000A LF at character 4)'],
    ['x'.repeat(1025), 'must be at most 1024 bytes'],
  ])('rejects %j', (key, problem) => expect(lakeKeyProblem(key)).toBe(problem));

  it('accepts ordinary nested keys and joins prefixes once', () => {
    expect(lakeKeyProblem('a/b c/ü.txt')).toBeNull();
    expect(joinKey('mirror/', 'a')).toBe('mirror/a');
    expect(joinKey('mirror', 'a')).toBe('mirror/a');
    expect(joinKey('', 'a')).toBe('a');
  });
});
