import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemSourceReader } from '../../activities/storage/fs-source.js';
import { compareKeys, lakeKeyProblem, joinKey } from '../../activities/storage/keys.js';

describe('filesystem listing', () => {
  let root: string;
  const keys = ['a-c', 'a/b', 'a/z/deep.txt', 'a.txt', 'b', 'Z', 'é.txt', '😀.txt', 'ａ.txt', 'dir/x y.txt'];

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
    const expected = [...keys].sort(compareKeys);
    expect(page.objects.map((o) => o.key)).toEqual(expected);
    expect(page.nextAfterKey).toBeNull();
    // '-' (0x2d) sorts before '/' (0x2f): a directory is not listed before its siblings.
    expect(expected.indexOf('a-c')).toBeLessThan(expected.indexOf('a/b'));
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
    expect(seen).toEqual([...keys].sort(compareKeys));
  });

  it('gives a changed file a different etag', async () => {
    const reader = new FilesystemSourceReader(root);
    const before = (await reader.listPage(null, 100)).objects.find((o) => o.key === 'b')!;
    await writeFile(join(root, 'b'), 'different length');
    const after = (await reader.listPage(null, 100)).objects.find((o) => o.key === 'b')!;
    expect(after.etag).not.toBe(before.etag);
    expect(after.size).toBe('different length'.length);
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
