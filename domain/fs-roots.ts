import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';

/**
 * Where a filesystem source may read: its real path (symlinks resolved, so a
 * link cannot escape) must be a directory inside one of the allowed roots.
 * `roots` undefined allows anywhere (development); an empty list allows nothing.
 * Returns the problem, or null when the path is fine.
 */
export async function fsPathProblem(path: string, roots: string[] | undefined): Promise<string | null> {
  const real = await realpath(path).catch(() => null);
  if (!real) return 'does not exist';
  const st = await stat(real).catch(() => null);
  if (!st?.isDirectory()) return 'is not a directory';
  if (roots === undefined) return null;
  if (roots.length === 0) return 'cannot be read: filesystem sources are disabled (set LAKESYNC_FS_ROOTS)';
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => null);
    if (realRoot && (real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep))) return null;
  }
  return `is outside the allowed roots (LAKESYNC_FS_ROOTS)${real !== path ? ` once its links are resolved (${real})` : ''}`;
}
