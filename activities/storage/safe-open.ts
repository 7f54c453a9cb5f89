import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from '../../domain/failures.js';
import { keyPreview } from './keys.js';
import type { ResolvedFsAccess } from '../../domain/fs-roots.js';

const refuse = (key: string, problem: string): ApplicationFailure =>
  ApplicationFailure.create({ type: FAILURE.unsafeSourceObject, message: `source file ${keyPreview(key)} ${problem}; it is not copied`, nonRetryable: true });

// O_NOFOLLOW refuses a link as the last component at open time; O_NONBLOCK keeps a FIFO swapped in from blocking the open.
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

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
 * permanent failure. Node has no openat/O_BENEATH, so the check is made on
 * what was opened, not before it: no link is followed as the last component
 * (O_NOFOLLOW), and the opened file's real path must be exactly the expected
 * one, so a link anywhere on the path (a directory swapped for a link after
 * listing) is caught; it must be a regular file inside an allowed root and
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
    handle = await open(expected, FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuse(key, 'is a symbolic link');
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
