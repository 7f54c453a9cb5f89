import { homedir, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { lakeDir, stateDir, type Env } from '../config/env.js';
import { FsAccess, SYSTEM_AREAS, type ForbiddenArea } from '../domain/fs-roots.js';

/**
 * Where this process's filesystem sources may read. Production reads only the
 * roots it is given (none by default). Development, so that `npm run dev`
 * syncs a directory of the user's own without configuration, defaults to the
 * home and temp directories, minus the home's hidden entries (~/.ssh, ~/.aws,
 * ... hold credentials). In every mode lakesync's own state (its secrets and
 * database), lake and cache, /proc, /sys and /dev are out of reach.
 */
export function fsAccessFromEnv(env: Env): FsAccess {
  const forbidden: ForbiddenArea[] = [
    { path: stateDir(env), what: "lakesync's state directory (LAKESYNC_STATE_DIR)" },
    { path: lakeDir(env), what: "lakesync's lake directory (LAKE_DIR)" },
    { path: resolve(env.LAKESYNC_CACHE_DIR), what: "lakesync's cache directory (LAKESYNC_CACHE_DIR)" },
    ...SYSTEM_AREAS,
    ...[env.TEMPORAL_TLS_KEY_PATH, env.TEMPORAL_TLS_CERT_PATH]
      .filter((p): p is string => !!p)
      .map((p) => ({ path: resolve(p), what: "lakesync's Temporal TLS files" })),
    ...(env.LAKESYNC_FS_DENY ?? []).map((p) => ({ path: p, what: 'a path listed in LAKESYNC_FS_DENY' })),
  ];
  if (env.LAKESYNC_FS_ROOTS) return new FsAccess({ roots: env.LAKESYNC_FS_ROOTS, forbidden, origin: 'LAKESYNC_FS_ROOTS' });
  if (env.NODE_ENV === 'production') return new FsAccess({ roots: [], forbidden, origin: 'LAKESYNC_FS_ROOTS is unset in production' });
  const home = homedir();
  return new FsAccess({
    roots: [home, tmpdir()],
    forbidden,
    origin: 'LAKESYNC_FS_ROOTS unset: the development default, home and temp directories',
    privateHome: home,
  });
}
