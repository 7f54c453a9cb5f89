import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from '../../domain/failures.js';
import { keyPreview } from '../../lake/keys.js';
import type { ResolvedFsAccess } from '../../domain/fs-roots.js';

const refuse = (key: string, problem: string): ApplicationFailure =>
  ApplicationFailure.create({ type: FAILURE.unsafeSourceObject, message: `source file ${keyPreview(key)} ${problem}; it is not copied`, nonRetryable: true });

// O_NOFOLLOW refuses a link as the last component at open time; O_NONBLOCK keeps a FIFO swapped in from blocking the open.
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * Opens `key` below the directory `root` without following a link at any
 * component, at open time: on Linux each component is opened inside the
 * previous one through /proc/self/fd/<dir>/<name> with O_NOFOLLOW (openat(2)
 * with no links); a link anywhere fails with ELOOP or ENOTDIR before anything
 * behind it is opened. Elsewhere only the last component is held to that.
 */
export async function openWithoutLinks(root: string, key: string): Promise<FileHandle> {
  if (process.platform !== 'linux') return open(join(root, key), FLAGS);
  const names = key.split('/');
  let dir = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const [i, name] of names.entries()) {
      const next = await open(`/proc/self/fd/${dir.fd}/${name}`, i === names.length - 1 ? FLAGS : DIR_FLAGS);
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (err) {
    await dir.close().catch(() => undefined);
    throw err;
  }
}

/** Whether a folder on the way to `key` is now a symbolic link. */
async function linkOnPath(root: string, key: string): Promise<boolean> {
  const names = key.split('/');
  for (let i = 1; i < names.length; i++) {
    if ((await lstat(join(root, ...names.slice(0, i))).catch(() => null))?.isSymbolicLink()) return true;
  }
  return false;
}

/** The path the kernel holds for an open file: exact on Linux, a re-resolution (checked against the inode) elsewhere. */
async function openedPath(handle: FileHandle, expected: string): Promise<string | null> {
  if (process.platform === 'linux') return readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
  const [real, opened] = await Promise.all([realpath(expected).catch(() => null), handle.stat()]);
  if (!real) return null;
  const st = await stat(real).catch(() => null);
  return st && st.ino === opened.ino && st.dev === opened.dev ? real : null;
}

/**
 * Opens `key` under the source's real root for reading, or refuses with a
 * permanent failure. No link is followed at any component when opening
 * (`openWithoutLinks`), and what was opened is checked again: its real path
 * must be exactly the expected one, a regular file inside an allowed root and
 * outside every forbidden area. FIFOs, sockets and devices are never opened.
 */
export async function openBeneath(root: string, key: string, access: ResolvedFsAccess | undefined): Promise<FileHandle> {
  const expected = join(root, key);
  if (!expected.startsWith(root.endsWith(sep) ? root : root + sep)) throw refuse(key, 'is outside the source directory');
  const before = await lstat(expected);
  if (before.isSymbolicLink()) throw refuse(key, 'is a symbolic link');
  if (!before.isFile()) throw refuse(key, 'is not a regular file');
  let handle: FileHandle;
  try {
    handle = await openWithoutLinks(root, key);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR is also a folder on the path replaced by a plain file: an ordinary change of a live tree, retried.
    if (code === 'ELOOP' || (code === 'ENOTDIR' && (await linkOnPath(root, key)))) throw refuse(key, 'is reached through a symbolic link on its path');
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse(key, 'is not a regular file');
    const real = await openedPath(handle, expected);
    if (real === null || real.endsWith(' (deleted)')) throw new Error(`source file ${keyPreview(key)} vanished while it was opened`);
    if (real !== expected) throw refuse(key, 'is reached through a symbolic link on its path');
    const refusal = access?.refusal(real);
    if (refusal) throw refuse(key, refusal);
    return handle;
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}
