/**
 * One `npm run dev` per state directory: a second one would otherwise wait,
 * silently, on the embedded Postgres and Temporal files the first holds.
 *
 * The lock is a file created with O_EXCL holding the owner's pid, its start
 * time and whether it is stopping. An owner killed with `kill -9` leaves the
 * file behind; its pid is then gone (or reused by another program, which the
 * start time tells apart), and the next start takes the lock over at once.
 * proper-lockfile was the alternative: it judges a lock stale by its age, so
 * a lock left by `kill -9` would hold every restart for its stale window, it
 * needs a refresh timer, and it keeps no pid to name to the user.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const Owner = z.object({ pid: z.number().int().positive(), started: z.string().optional(), state: z.enum(['running', 'stopping']) });
export type LockOwner = z.infer<typeof Owner>;

export class StateDirLocked extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner,
    waitedMs?: number,
  ) {
    super(
      waitedMs === undefined
        ? `${dir} is in use by process ${owner.pid} (another \`npm run dev\`): stop it first, or set LAKESYNC_STATE_DIR to another directory`
        : `${dir} is still held by process ${owner.pid}, which has been stopping for ${Math.round(waitedMs / 1000)} s: wait for it to exit, or stop it`,
    );
  }
}

export interface StateDirLock {
  /** Tells a start waiting for this directory that it will be free soon. */
  markStopping(): void;
  /** Removes the lock if it is still ours; synchronous, so an `exit` handler can call it. */
  release(): void;
}

/** The kernel's start time of `pid` (Linux only), so a pid reused by another program is not taken for the owner. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": the 22nd field of the line, starttime, is the 20th after the name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(owner.pid);
  return owner.started === undefined || now === undefined || now === owner.started;
}

/** The owner the lock file names; undefined while it is being written, or when it is gone. */
function readOwner(path: string): { owner?: LockOwner; text?: string } {
  try {
    const text = readFileSync(path, 'utf8');
    const parsed = Owner.safeParse(JSON.parse(text));
    return { owner: parsed.success ? parsed.data : undefined, text };
  } catch {
    return {};
  }
}

/** Unreadable for this long, a lock file is not one being written but a broken one. */
const BROKEN_AFTER_MS = 2000;

/**
 * Takes `<dir>/lock`. A live owner that is running makes this throw
 * StateDirLocked at once; one that is stopping is waited for, up to
 * `waitForStoppingMs` (`onWait` says so once).
 */
export async function lockStateDir(dir: string, o: { waitForStoppingMs: number; onWait: (owner: LockOwner) => void }): Promise<StateDirLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'lock');
  const me: LockOwner = { pid: process.pid, started: startTime(process.pid), state: 'running' };
  const write = (flag: 'wx' | 'w', target: string, owner: LockOwner) => {
    const fd = openSync(target, flag, 0o644);
    try {
      writeSync(fd, JSON.stringify(owner));
    } finally {
      closeSync(fd);
    }
  };
  let waitingSince: number | undefined;
  for (;;) {
    try {
      write('wx', path, me);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const { owner, text } = readOwner(path);
    if (!owner) {
      const age = (() => {
        try {
          return Date.now() - statSync(path).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if (text !== undefined && age > BROKEN_AFTER_MS) removeIfUnchanged(path, text);
      await sleep(50);
      continue;
    }
    if (!isAlive(owner)) {
      // Left by an owner that died. Two starts taking it over at the same instant could both win; re-reading first narrows that to a few microseconds.
      removeIfUnchanged(path, text!);
      continue;
    }
    if (owner.state !== 'stopping') throw new StateDirLocked(dir, owner);
    if (waitingSince === undefined) {
      waitingSince = Date.now();
      o.onWait(owner);
    }
    const waited = Date.now() - waitingSince;
    if (waited > o.waitForStoppingMs) throw new StateDirLocked(dir, owner, waited);
    await sleep(100);
  }
  const ours = () => readOwner(path).owner?.pid === process.pid;
  return {
    markStopping: () => {
      if (!ours()) return;
      // Replaced by rename, so a start reading it meanwhile sees the old or the new owner record, never a half-written one.
      const tmp = `${path}.${process.pid}`;
      write('w', tmp, { ...me, state: 'stopping' });
      renameSync(tmp, path);
    },
    release: () => {
      if (ours()) unlinkSync(path);
    },
  };
}

function removeIfUnchanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
  } catch {
    // Gone already: another start took it over.
  }
}
