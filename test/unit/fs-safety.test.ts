/**
 * Filesystem sources and the directory lake on hostile trees: links swapped in
 * after listing, FIFOs, forbidden areas under a root, and listing cost
 * (directory reads counted, never timed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { FilesystemSourceReader } from '../../activities/storage/fs-source.js';
import { FilesystemLake } from '../../lake/fs-lake.js';
import { compareUtf8, readDirEntries, type ReadDir } from '../../lake/dir-walk.js';
import { openBeneath, openWithoutLinks } from '../../activities/storage/safe-open.js';
import { compareKeys, lakeKeyProblem, lakePrefixProblem } from '../../lake/keys.js';
import { FsAccess, SYSTEM_AREAS } from '../../domain/fs-roots.js';
import { FAILURE } from '../../domain/failures.js';
import { loadEnv } from '../../config/env.js';
import { fsAccessFromEnv } from '../../workers/fs-access.js';

/** The real directory reader, counting its calls. */
function countingReadDir(): { readDir: ReadDir; reads: string[] } {
  const reads: string[] = [];
  return { reads, readDir: async (p) => (reads.push(p), readDirEntries(p)) };
}

async function refusal(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect(failure.type).toBe(FAILURE.unsafeSourceObject);
  expect(failure.nonRetryable).toBe(true);
  return failure;
}

describe('lake key rules (the same for both lakes)', () => {
  it.each([
    ['a//b', 'must not contain empty segments (//)'],
    ['x/', 'must not end with / (a folder is not an object)'],
    [`a/${'s'.repeat(256)}`, 'must not have a segment longer than 255 bytes'],
    [`${'é'.repeat(128)}`, 'must not have a segment longer than 255 bytes'],
  ])('refuses %j', (key, problem) => expect(lakeKeyProblem(key)).toBe(problem));

  it('accepts a 255-byte segment and prefixes with one trailing slash', () => {
    expect(lakeKeyProblem(`a/${'s'.repeat(255)}`)).toBeNull();
    expect(lakePrefixProblem('docs/')).toBeNull();
    expect(lakePrefixProblem('docs')).toBeNull();
    expect(lakePrefixProblem('')).toBeNull();
    expect(lakePrefixProblem('docs//')).toBe('must not end with / (a folder is not an object)');
    expect(lakePrefixProblem('a//b/')).toBe('must not contain empty segments (//)');
  });
});

describe('where filesystem sources may read', () => {
  let base: string;
  let root: string;
  let state: string;
  let outside: string;
  let home: string;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lakesync-access-'));
    root = join(base, 'root');
    state = join(root, 'app', '.lakesync');
    outside = join(base, 'outside');
    home = join(base, 'home');
    for (const d of [join(root, 'docs'), state, outside, join(home, '.ssh'), join(home, 'notes')]) await mkdir(d, { recursive: true });
    await symlink(state, join(root, 'docs', 'to-state'));
    await symlink(outside, join(root, 'to-outside'));
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  const access = () =>
    new FsAccess({
      roots: [root],
      forbidden: [{ path: state, what: "lakesync's state directory (LAKESYNC_STATE_DIR)" }, ...SYSTEM_AREAS],
      origin: 'LAKESYNC_FS_ROOTS',
    });

  it('refuses a forbidden area under a root, directly or through a link', async () => {
    expect(await access().checkSourceDir(join(root, 'docs'))).toMatchObject({ real: join(root, 'docs') });
    expect(await access().checkSourceDir(state)).toEqual({ problem: expect.stringContaining("is inside lakesync's state directory (LAKESYNC_STATE_DIR)") });
    expect(await access().checkSourceDir(join(root, 'docs', 'to-state'))).toEqual({
      problem: expect.stringMatching(/^is inside lakesync's state directory .* \(through a link\)$/),
    });
    expect(await access().checkSourceDir(join(root, 'to-outside'))).toEqual({
      problem: expect.stringContaining('is outside the allowed roots (LAKESYNC_FS_ROOTS)'),
    });
  });

  it('keeps /proc, /sys and /dev out of reach even when / is a root', async () => {
    const everything = new FsAccess({ roots: ['/'], forbidden: SYSTEM_AREAS, origin: 'LAKESYNC_FS_ROOTS' });
    for (const p of ['/proc', '/proc/self', '/sys', '/dev'])
      expect(await everything.checkSourceDir(p)).toEqual({ problem: expect.stringContaining('which filesystem sources may never read') });
    expect(await everything.checkSourceDir('/etc')).toMatchObject({ real: '/etc' });
  });

  it("refuses the home directory's hidden entries under the development default", async () => {
    const dev = new FsAccess({ roots: [home], forbidden: SYSTEM_AREAS, origin: 'development default', privateHome: home });
    expect(await dev.checkSourceDir(join(home, '.ssh'))).toEqual({ problem: expect.stringContaining('hidden entry of the home directory') });
    expect(await dev.checkSourceDir(join(home, 'notes'))).toMatchObject({ real: join(home, 'notes') });
  });

  it('disables filesystem sources when there are no roots', async () => {
    const none = new FsAccess({ roots: [], forbidden: SYSTEM_AREAS, origin: 'LAKESYNC_FS_ROOTS is unset in production' });
    expect(await none.checkSourceDir(root)).toEqual({ problem: 'cannot be read: filesystem sources are disabled (set LAKESYNC_FS_ROOTS)' });
  });

  it('prunes a forbidden area from a listing of a directory that contains it', async () => {
    await writeFile(join(state, 'auth-secret'), 'secret');
    await writeFile(join(root, 'app', 'readme.md'), 'hello');
    const checked = await access().checkSourceDir(join(root, 'app'));
    if (!('real' in checked)) throw new Error(checked.problem);
    const reader = new FilesystemSourceReader(checked.real, { access: checked.access });
    expect((await reader.listPage(null, 100)).objects.map((o) => o.key)).toEqual(['readme.md']);
    // Even a key naming it (a stale catalog row) is refused when opened.
    await refusal(reader.openRead('.lakesync/auth-secret'));
  });
});

describe('roots from the environment', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lakesync-env-'));
    for (const d of ['state/lake', 'cache', 'data', 'denied']) await mkdir(join(base, d), { recursive: true });
  });
  afterAll(() => rm(base, { recursive: true, force: true }));
  const env = (vars: Record<string, string>) => loadEnv({ LAKESYNC_STATE_DIR: join(base, 'state'), LAKESYNC_CACHE_DIR: join(base, 'cache'), ...vars });
  const prod = { NODE_ENV: 'production', LAKESYNC_SECRET_KEY: Buffer.alloc(32).toString('base64'), LAKESYNC_AUTH_SECRET: 'x'.repeat(32) };

  it('defaults to the home and temp directories in development, printed with what is never read', async () => {
    const access = fsAccessFromEnv(env({}));
    expect(access.roots).toEqual([homedir(), tmpdir()]);
    expect(access.describe()).toContain(`${homedir()}, ${tmpdir()} (LAKESYNC_FS_ROOTS unset: the development default`);
    expect(access.describe()).toContain(`never ${join(base, 'state')}, ${join(base, 'state', 'lake')}, ${join(base, 'cache')}, /proc, /sys, /dev`);
    expect(await access.checkSourceDir(join(base, 'data'))).toMatchObject({ real: join(base, 'data') });
    expect(await access.checkSourceDir('/etc')).toEqual({ problem: expect.stringContaining('is outside the allowed roots') });
  });

  it("keeps lakesync's state, lake and cache directories out of reach in every mode", async () => {
    for (const vars of [{}, { LAKESYNC_FS_ROOTS: '/' }, { ...prod, LAKESYNC_FS_ROOTS: base }] as Record<string, string>[]) {
      const access = fsAccessFromEnv(env(vars));
      expect(await access.checkSourceDir(join(base, 'state'))).toEqual({ problem: expect.stringContaining("lakesync's state directory (LAKESYNC_STATE_DIR)") });
      expect(await access.checkSourceDir(join(base, 'state', 'lake'))).toEqual({ problem: expect.stringContaining("lakesync's state directory") });
      expect(await access.checkSourceDir(join(base, 'cache'))).toEqual({ problem: expect.stringContaining("lakesync's cache directory (LAKESYNC_CACHE_DIR)") });
    }
    const denied = fsAccessFromEnv(env({ LAKESYNC_FS_ROOTS: base, LAKESYNC_FS_DENY: join(base, 'denied') }));
    expect(await denied.checkSourceDir(join(base, 'denied'))).toEqual({ problem: expect.stringContaining('a path listed in LAKESYNC_FS_DENY') });
  });

  it('disables filesystem sources in production unless roots are given', async () => {
    expect(await fsAccessFromEnv(env(prod)).checkSourceDir(join(base, 'data'))).toEqual({
      problem: 'cannot be read: filesystem sources are disabled (set LAKESYNC_FS_ROOTS)',
    });
    expect(await fsAccessFromEnv(env({ ...prod, LAKESYNC_FS_ROOTS: base })).checkSourceDir(join(base, 'data'))).toMatchObject({ real: join(base, 'data') });
  });
});

describe('opening a listed file', () => {
  let base: string;
  let root: string;
  let secretDir: string;
  let socket: Server;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'lakesync-open-'));
    root = join(base, 'root');
    secretDir = join(base, 'secret');
    await mkdir(join(root, 'sub'), { recursive: true });
    await mkdir(secretDir);
    await writeFile(join(root, 'a.txt'), 'inside a');
    await writeFile(join(root, 'sub', 'b.txt'), 'inside b');
    await writeFile(join(secretDir, 'b.txt'), 'SECRET');
    execFileSync('mkfifo', [join(root, 'fifo')]);
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(root, 'sock'), resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => socket.close(resolve));
    await rm(base, { recursive: true, force: true });
  });

  it('lists only regular files: FIFOs, sockets and links are skipped', async () => {
    await symlink('/etc/passwd', join(root, 'passwd'));
    const page = await new FilesystemSourceReader(root).listPage(null, 100);
    expect(page.objects.map((o) => o.key)).toEqual(['a.txt', 'sub/b.txt']);
  });

  it('reads a regular file', async () => {
    const { body } = await new FilesystemSourceReader(root).openRead('sub/b.txt');
    expect(Buffer.concat(await body.toArray()).toString()).toBe('inside b');
    expect(await new FilesystemSourceReader(root).contentHash('a.txt')).toMatch(/^md5:[0-9a-f]{32}$/);
  });

  it('refuses a FIFO (without blocking), a socket and a link as the last component', async () => {
    const reader = new FilesystemSourceReader(root);
    expect((await refusal(reader.openRead('fifo'))).message).toContain('is not a regular file');
    expect((await refusal(reader.openRead('sock'))).message).toContain('is not a regular file');
    expect((await refusal(reader.openRead('passwd'))).message).toContain('is a symbolic link');
    expect((await refusal(reader.contentHash('passwd'))).message).toContain('is a symbolic link');
  });

  it('refuses a file swapped for a link, and a directory on its path swapped for one', async () => {
    const reader = new FilesystemSourceReader(root);
    await rename(join(root, 'a.txt'), join(root, 'a.txt.orig'));
    await symlink(join(secretDir, 'b.txt'), join(root, 'a.txt'));
    await rename(join(root, 'sub'), join(root, 'sub.orig'));
    await symlink(secretDir, join(root, 'sub'));
    expect((await refusal(reader.openRead('a.txt'))).message).toContain('is a symbolic link');
    expect((await refusal(reader.openRead('sub/b.txt'))).message).toContain('is reached through a symbolic link on its path');
    expect((await refusal(reader.contentHash('sub/b.txt'))).message).toContain('is reached through a symbolic link on its path');
    // The source root itself is a real path: a key cannot climb out of it either.
    await expect(openBeneath(root, '../secret/b.txt', undefined)).rejects.toThrow('is outside the source directory');
  });
});

describe('listing order', () => {
  it('compares strings in UTF-8 byte order, as Buffer.compare does', () => {
    const names = ['a', 'a/', 'a-c', 'a.txt', 'Z', 'é', 'ｚ', '\uffff', '😀', '𝄞', 'a😀', 'aｚ', '', 'ab', 'a\u0000'];
    for (const a of names) for (const b of names) expect(Math.sign(compareUtf8(a, b)), `${a} vs ${b}`).toBe(Math.sign(compareKeys(a, b)));
  });
});

describe('listing cost', () => {
  let root: string;
  const dirs = 20;
  const perDir = 10;
  const keys: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lakesync-walk-'));
    for (let d = 0; d < dirs; d++) {
      await mkdir(join(root, `d${d}`));
      for (let f = 0; f < perDir; f++) {
        await writeFile(join(root, `d${d}`, `f${f}`), 'x');
        keys.push(`d${d}/f${f}`);
      }
    }
    keys.sort(compareKeys);
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('reads only the directories on the cursor path and those the page enters', async () => {
    const { readDir, reads } = countingReadDir();
    const reader = new FilesystemSourceReader(root, { readDir });
    const page = await reader.listPage('d15/f8', 5);
    expect(page.objects.map((o) => o.key)).toEqual(keys.slice(keys.indexOf('d15/f8') + 1, keys.indexOf('d15/f8') + 6));
    // The root, d15 (the cursor's), d16 (entered): not the 17 directories before the cursor.
    expect(reads.map((p) => p.slice(root.length))).toEqual(['', '/d15/', '/d16/']);
  });

  it('reads each directory once when paging through the tree', async () => {
    const { readDir, reads } = countingReadDir();
    const reader = new FilesystemSourceReader(root, { readDir, settledMs: 0 });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await reader.listPage(after, 7);
      seen.push(...page.objects.map((o) => o.key));
      if (page.nextAfterKey === null) break;
      after = page.nextAfterKey;
    }
    expect(seen).toEqual(keys);
    expect(reads).toHaveLength(dirs + 1);
  });

  it('sees a file added after a page was listed (a changed directory is read again)', async () => {
    const reader = new FilesystemSourceReader(root);
    const first = await reader.listPage(null, 3);
    await writeFile(join(root, 'd0', 'f9z'), 'new');
    const rest: string[] = [];
    let after = first.nextAfterKey;
    while (after !== null) {
      const page = await reader.listPage(after, 50);
      rest.push(...page.objects.map((o) => o.key));
      after = page.nextAfterKey;
    }
    expect(rest).toContain('d0/f9z');
    await rm(join(root, 'd0', 'f9z'));
  });

  it('pages a prefix of a big lake directory with one directory read per page, and none when resumed', async () => {
    const lakeRoot = await mkdtemp(join(tmpdir(), 'lakesync-lake-walk-'));
    try {
      const { readDir, reads } = countingReadDir();
      const lake = new FilesystemLake(lakeRoot, { readDir, settledMs: 0 });
      const big: string[] = [];
      for (let i = 0; i < 600; i++) big.push(`big/k${String(i).padStart(4, '0')}`);
      for (const k of ['big/a', 'big/z', 'other/x', ...big]) await lake.put('b', k, Readable.from(['x']), {});
      const prefix = 'big/k';
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const page = await lake.list('b', prefix, after, 50);
        pages++;
        seen.push(...page.objects.map((o) => o.key));
        if (!page.more) break;
        after = page.objects.at(-1)!.key;
      }
      expect(seen).toEqual(big);
      expect(pages).toBe(12);
      // One read of big/ for the first page; later pages resume the same walk.
      expect(reads.map((p) => p.slice(lakeRoot.length))).toEqual(['/b/big/']);
      // A fresh lake (no paused walk) reads the one directory, whatever the cursor.
      const { readDir: readDir2, reads: reads2 } = countingReadDir();
      const page = await new FilesystemLake(lakeRoot, { readDir: readDir2 }).list('b', prefix, 'big/k0300', 5);
      expect(page.objects.map((o) => o.key)).toEqual(big.slice(301, 306));
      expect(reads2).toHaveLength(1);
    } finally {
      await rm(lakeRoot, { recursive: true, force: true });
    }
  });

  it('answers a delimited listing with one read of the prefix folder, however big the folders below it', async () => {
    const lakeRoot = await mkdtemp(join(tmpdir(), 'lakesync-lake-delim-'));
    try {
      const lake = new FilesystemLake(lakeRoot);
      const keys = ['top/a.txt', 'top/b-c.txt', 'top/empty-later/x', 'top/z.txt'];
      for (let d = 0; d < 30; d++) for (let f = 0; f < 40; f++) keys.push(`top/d${String(d).padStart(2, '0')}/f${f}`);
      for (const k of keys) await lake.put('b', k, Readable.from(['x']), {});
      await lake.delete('b', 'top/empty-later/x');
      const { readDir, reads } = countingReadDir();
      const counted = new FilesystemLake(lakeRoot, { readDir });
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await counted.listDelimited('b', 'top/', '/', after, 7);
        seen.push(...page!.entries.map((e) => `${e.kind}:${e.key}`));
        if (!page!.more) break;
        // The route resumes after a common prefix past everything under it.
        const last = page!.entries.at(-1)!.key;
        after = last.endsWith('/') ? `${last}\u{10FFFF}` : last;
      }
      // Byte order, folders as "name/"; the folder left empty is no common prefix.
      expect(seen).toEqual([
        'object:top/a.txt',
        'object:top/b-c.txt',
        ...Array.from({ length: 30 }, (_, d) => `prefix:top/d${String(d).padStart(2, '0')}/`),
        'object:top/z.txt',
      ]);
      // One read of top/ per page, never a read of the 1,200 keys below.
      expect(new Set(reads.map((p) => p.slice(lakeRoot.length)))).toEqual(new Set(['/b/top/']));
      expect(reads).toHaveLength(Math.ceil(seen.length / 7));
      expect(await counted.listDelimited('b', 'top/', '|', null, 5)).toBeNull();
    } finally {
      await rm(lakeRoot, { recursive: true, force: true });
    }
  });
});

describe('temp files after a crash', () => {
  it('removes temp files older than the limit and keeps fresh ones', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lakesync-stale-'));
    try {
      const lake = new FilesystemLake(root);
      await mkdir(join(root, '.tmp'));
      await writeFile(join(root, '.tmp', 'old'), 'cut off');
      await writeFile(join(root, '.tmp', 'live'), 'being written');
      const hourAgo = new Date(Date.now() - 2 * 3600 * 1000);
      await utimes(join(root, '.tmp', 'old'), hourAgo, hourAgo);
      expect(await lake.removeStaleTemp(3600 * 1000)).toBe(1);
      expect(await readdir(join(root, '.tmp'))).toEqual(['live']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('opening without links', () => {
  it('refuses a link at any component at open time, before anything behind it is opened', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lakesync-nolinks-'));
    try {
      await mkdir(join(root, 'real'));
      await writeFile(join(root, 'real', 'f.txt'), 'inside');
      // A directory on the path that is a link (here to /dev: opening what is behind it could have effects).
      await symlink('/dev', join(root, 'dev-link'));
      await symlink(join(root, 'real'), join(root, 'inner-link'));
      const handle = await openWithoutLinks(root, 'real/f.txt');
      expect(await handle.readFile('utf8')).toBe('inside');
      await handle.close();
      for (const key of ['dev-link/null', 'inner-link/f.txt']) {
        const err = await openWithoutLinks(root, key).then(
          async (h) => (await h.close(), null),
          (e: NodeJS.ErrnoException) => e,
        );
        expect(err?.code, key).toMatch(/^(ELOOP|ENOTDIR)$/);
      }
      // A folder on the path replaced by a plain file is a change of a live tree, not a link: retried, not refused.
      await mkdir(join(root, 'was-dir'));
      await writeFile(join(root, 'was-dir', 'f.txt'), 'x');
      await rm(join(root, 'was-dir'), { recursive: true });
      await writeFile(join(root, 'was-dir'), 'now a file');
      const plain = await openBeneath(root, 'was-dir/f.txt', undefined).then(
        () => null,
        (e: Error) => e,
      );
      expect(plain).not.toBeInstanceOf(ApplicationFailure);
      expect((plain as NodeJS.ErrnoException).code).toBe('ENOTDIR');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('refusals tell nothing about the host', () => {
  it('answers the same for a missing path, a file and a directory outside the roots, and never names a link target', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lakesync-quiet-'));
    try {
      const access = new FsAccess({ roots: [join(root, 'allowed')], forbidden: SYSTEM_AREAS, origin: 'LAKESYNC_FS_ROOTS' });
      await mkdir(join(root, 'allowed'));
      await symlink('/etc', join(root, 'allowed', 'to-etc'));
      const outside = 'is outside the allowed roots (LAKESYNC_FS_ROOTS)';
      expect(await access.checkSourceDir('/etc/passwd')).toEqual({ problem: outside });
      expect(await access.checkSourceDir('/no/such/dir')).toEqual({ problem: outside });
      expect(await access.checkSourceDir('/etc')).toEqual({ problem: outside });
      expect(await access.checkSourceDir(join(root, 'allowed', 'to-etc'))).toEqual({ problem: `${outside} (through a link)` });
      expect(await access.checkSourceDir(join(root, 'allowed', 'missing'))).toEqual({ problem: 'does not exist', notFound: true });
      // `..` after a link would resolve against the link's target, so existence outside could be probed.
      for (const probe of ['to-etc/../etc/ssl', 'to-etc/../etc/nonexistent', './x'].map((p) => `${root}/allowed/${p}`)) {
        expect(await access.checkSourceDir(probe)).toEqual({ problem: 'must not contain . or .. segments' });
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('directory lake key clashes', () => {
  let lakeRoot: string;
  beforeAll(async () => void (lakeRoot = await mkdtemp(join(tmpdir(), 'lakesync-lake-clash-'))));
  afterAll(() => rm(lakeRoot, { recursive: true, force: true }));

  const put = (lake: FilesystemLake, key: string) => lake.put('b', key, Readable.from([key]), {});
  const conflict = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FAILURE.lakeKeyConflict);
  };

  it('refuses a file where a folder is stored and the reverse, and lets a deleted folder go', async () => {
    const lake = new FilesystemLake(lakeRoot);
    await put(lake, 'a');
    await conflict(put(lake, 'a/b'));
    await put(lake, 'c/d');
    await conflict(put(lake, 'c'));
    expect(await lake.head('b', 'c/d')).not.toBeNull();
    // Deleting the only object of a folder removes the folder: its name is free again.
    await lake.delete('b', 'c/d');
    await put(lake, 'c');
    expect(await lake.head('b', 'c')).not.toBeNull();
    // Deleting a folder's name is a no-op, not an error.
    await put(lake, 'e/f');
    await lake.delete('b', 'e');
    expect(await lake.head('b', 'e/f')).not.toBeNull();
  });
});
