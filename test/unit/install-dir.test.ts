/**
 * installDirOnce, the race-safe install every cached tool goes through: two
 * installs at once both end with the one complete copy, a failed build leaves
 * nothing, and the leftovers of a killed install are cleared.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDirOnce } from '../../infra/install-dir.js';

describe('installDirOnce', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lakesync-install-dir-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const ready = async (dir: string) => (await readFile(join(dir, 'tool'), 'utf8').catch(() => '')).startsWith('complete');

  it('two installs racing both succeed and leave one complete copy, no scratch', async () => {
    const dir = join(root, 'raced');
    // Each build waits until both are under way, so the renames really collide.
    let started = 0;
    let bothStarted!: () => void;
    const barrier = new Promise<void>((resolve) => (bothStarted = resolve));
    const build = (label: string) => async (scratch: string) => {
      await mkdir(scratch);
      if (++started === 2) bothStarted();
      await barrier;
      await writeFile(join(scratch, 'tool'), `complete ${label}`);
    };
    await Promise.all([installDirOnce(dir, ready, build('a')), installDirOnce(dir, ready, build('b'))]);
    expect(started).toBe(2);
    expect(await readFile(join(dir, 'tool'), 'utf8')).toMatch(/^complete [ab]$/);
    expect(await readdir(root)).toEqual(['raced']);
  });

  it('an installed copy is used as it is, without building', async () => {
    let built = false;
    await installDirOnce(join(root, 'raced'), ready, async () => {
      built = true;
    });
    expect(built).toBe(false);
  });

  it('a failed or incomplete build leaves nothing behind', async () => {
    const dir = join(root, 'failing');
    const failing = installDirOnce(dir, ready, async (scratch) => {
      await mkdir(scratch);
      throw new Error('no network');
    });
    await expect(failing).rejects.toThrow('no network');
    const incomplete = installDirOnce(dir, ready, async (scratch) => {
      await mkdir(scratch);
      await writeFile(join(scratch, 'tool'), 'half');
    });
    await expect(incomplete).rejects.toThrow(/incomplete install/);
    expect((await readdir(root)).filter((e) => e.startsWith('failing'))).toEqual([]);
  });

  it('clears the scratch copy of an install whose process is gone, keeps a live one', async () => {
    const dir = join(root, 'leftovers');
    const dead = `${dir}.partial-2147483646-dead`;
    const live = `${dir}.partial-${process.pid}-live`;
    await mkdir(dead);
    await mkdir(live);
    await installDirOnce(dir, ready, async (scratch) => {
      await mkdir(scratch);
      await writeFile(join(scratch, 'tool'), 'complete');
    });
    expect((await readdir(root)).filter((e) => e.startsWith('leftovers')).sort()).toEqual(['leftovers', `leftovers.partial-${process.pid}-live`]);
  });
});
