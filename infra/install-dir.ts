import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Installs into `dir` at most once, safely when several processes (parallel
 * test runs, a benchmark) race: each builds into its own scratch directory
 * beside `dir` and renames it into place. The rename is atomic, so `dir`
 * either does not exist or is complete; a loser of the race throws its copy
 * away and uses the winner's. Whatever `build` leaves must therefore work
 * after a move (no absolute paths into the scratch directory).
 */
export async function installDirOnce(dir: string, ready: (dir: string) => Promise<boolean>, build: (scratch: string) => Promise<void>): Promise<void> {
  if (await ready(dir)) return;
  await removeAbandoned(dir);
  const scratch = `${dir}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await build(scratch);
    if (!(await ready(scratch))) throw new Error(`installing into ${scratch} finished but left an incomplete install`);
    try {
      await rename(scratch, dir);
    } catch (err) {
      // Another process renamed its copy first (or a broken leftover sits there): use it only if it works.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      if (await ready(dir)) return;
      throw new Error(`${dir} exists but is not a working install: delete it and run again`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Scratch copies left by installs that were killed midway (their process is gone): a venv is a hundred megabytes. */
async function removeAbandoned(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.partial-`;
  for (const entry of await readdir(dirname(dir)).catch(() => [])) {
    const pid = Number(entry.startsWith(prefix) ? entry.slice(prefix.length).split('-')[0] : NaN);
    if (Number.isInteger(pid) && !alive(pid)) await rm(join(dirname(dir), entry), { recursive: true, force: true });
  }
}
