/**
 * One `npm run dev` per state directory: a second one would otherwise wait,
 * silently, on the embedded Postgres and Temporal files the first holds.
 *
 * The lock is a file holding the owner's pid, its start time and whether it is
 * stopping. It is written in full to a file of its own first, then linked to
 * `lock` (a hard link fails with EEXIST when taken), so no start ever reads a
 * half-written lock. A lock that does not parse all the same (left by an
 * older version, or a disk that filled up) is removed once it is a couple of
 * seconds old, and every wait has a deadline that ends in a message. An owner killed with `kill -9` leaves the
 * file behind; its pid is then gone (or reused by another program, which the
 * start time tells apart), and the next start takes the lock over as soon as
 * the servers it names (those the dead owner started) are gone too.
 * proper-lockfile was the alternative: it judges a lock stale by its age, so
 * a lock left by `kill -9` would hold every restart for its stale window, it
 * needs a refresh timer, and it keeps no pid to name to the user.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

const Process = z.object({ pid: z.number().int().positive(), started: z.string().optional() });
const Owner = Process.extend({
  state: z.enum(['running', 'stopping']),
  /** The servers the owner started (Temporal, Postgres), which outlive it by seconds when it is killed: their tethers stop them. */
  servers: z.array(Process).optional(),
});
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
  /** Records a server started on this directory's files, so a start taking over after this owner died waits for it to be gone. */
  addServer(pid: number): void;
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

function isAlive(p: z.infer<typeof Process>): boolean {
  try {
    process.kill(p.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(p.pid);
  return p.started === undefined || now === undefined || now === p.started;
}

/** The owner the lock file names, and its text; neither when it is gone, only `text` when it does not parse, `error` when it cannot be read. */
function readOwner(path: string): { owner?: LockOwner; text?: string; error?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? {} : { error: `${code ?? ''} ${(err as Error).message}`.trim() };
  }
  try {
    const parsed = Owner.safeParse(JSON.parse(text));
    return { owner: parsed.success ? parsed.data : undefined, text };
  } catch {
    return { text };
  }
}

/** Unparsable for this long (by its mtime, or as long as this start has seen it so), a lock file is not one being written but a broken one. */
const BROKEN_AFTER_MS = 2000;
/** How long a start waits on a lock it can neither parse nor remove, on top of any wait for a stopping owner. */
const DEADLINE_SLACK_MS = 5000;

/** Writes `owner` to `target` in full, replacing it (`w`) or only when it does not exist (`wx`). */
function writeOwner(target: string, owner: LockOwner, flag: 'w' | 'wx'): void {
  const fd = openSync(target, flag, 0o644);
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
}

/** Creates `path` holding `owner`, complete or not at all; false when it exists. */
function createLock(path: string, owner: LockOwner): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeOwner(tmp, owner, 'w');
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // A filesystem without hard links: an exclusive create, which a crash can leave empty (then removed as broken).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    try {
      writeOwner(path, owner, 'wx');
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
  }
}

/** How old the file at `path` is by its mtime; 0 when it cannot be told. */
function ageOf(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * A dead owner's servers are stopped by their tethers: within a second of its death, and killed 10 s later if they have not stopped. A start waits this
 * long for them before it gives up naming them.
 */
const SERVERS_GONE_MS = 15_000;

/**
 * Takes `<dir>/lock`. A live owner that is running makes this throw
 * StateDirLocked at once; one that is stopping is waited for, up to
 * `waitForStoppingMs`. A dead owner's servers still running are waited for,
 * up to SERVERS_GONE_MS: a Postgres of ours started on the data directory
 * theirs still holds would fail. `onWait` says which wait, once each.
 */
export async function lockStateDir(
  dir: string,
  o: { waitForStoppingMs: number; onWait: (owner: LockOwner, servers?: readonly number[]) => void },
): Promise<StateDirLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'lock');
  const me: LockOwner = { pid: process.pid, started: startTime(process.pid), state: 'running' };
  let waitingSince: number | undefined;
  let serversSince: number | undefined;
  let brokenSince: number | undefined;
  const deadline = Date.now() + Math.max(o.waitForStoppingMs, BROKEN_AFTER_MS) + DEADLINE_SLACK_MS;
  for (;;) {
    if (createLock(path, me)) break;
    const { owner, text, error } = readOwner(path);
    if (!owner) {
      if (text !== undefined) {
        // Not a lock being written (those are linked in whole), unless an older version is writing it: removed once it is clearly not that.
        brokenSince ??= Date.now();
        if (ageOf(path) > BROKEN_AFTER_MS || Date.now() - brokenSince > BROKEN_AFTER_MS) removeIfUnchanged(path, text);
      }
      if (Date.now() > deadline)
        throw new Error(
          error !== undefined
            ? `${path} cannot be read (${error}): remove it if no \`npm run dev\` is running there`
            : `${path} is not a lock this version can read, and could not be removed: remove it if no \`npm run dev\` is running there`,
        );
      await sleep(50);
      continue;
    }
    brokenSince = undefined;
    if (!isAlive(owner)) {
      const left = (owner.servers ?? []).filter(isAlive).map((p) => p.pid);
      if (left.length > 0) {
        if (serversSince === undefined) {
          serversSince = Date.now();
          o.onWait(owner, left);
        }
        if (Date.now() - serversSince > SERVERS_GONE_MS)
          throw new Error(
            `${path} names process ${owner.pid}, which is gone, but the servers it started are still running after ${SERVERS_GONE_MS / 1000} s: stop them (kill ${left.join(' ')})`,
          );
        await sleep(100);
        continue;
      }
      // Left by an owner that died. Two starts taking it over at the same instant could both win; re-reading first narrows that to a few microseconds.
      if (removeIfUnchanged(path, text!)) continue;
      if (Date.now() > deadline) throw new Error(`${path} names process ${owner.pid}, which is gone, but cannot be removed: remove it by hand`);
      await sleep(50);
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
  const record: LockOwner = { ...me, servers: [] };
  const rewrite = () => {
    if (!ours()) return;
    // Replaced by rename, so a start reading it meanwhile sees the old or the new owner record, never a half-written one.
    const tmp = `${path}.${process.pid}.tmp`;
    writeOwner(tmp, record, 'w');
    renameSync(tmp, path);
  };
  return {
    markStopping: () => {
      record.state = 'stopping';
      rewrite();
    },
    addServer: (pid) => {
      record.servers!.push({ pid, started: startTime(pid) });
      rewrite();
    },
    release: () => {
      try {
        if (ours()) unlinkSync(path);
      } catch {
        // Called from exit handlers: a lock that cannot be removed names a pid that is about to be gone, which the next start takes over.
      }
    },
  };
}

/** Removes `path` if it still holds `text`; false only when it does and cannot be removed. */
function removeIfUnchanged(path: string, text: string): boolean {
  try {
    if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    return true;
  } catch (err) {
    // Gone already (another start took it over), or not ours to remove.
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
