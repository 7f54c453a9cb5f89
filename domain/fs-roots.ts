import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';

/** A directory no filesystem source may read, and why, for error messages. */
export interface ForbiddenArea {
  path: string;
  what: string;
}

/**
 * Where filesystem sources may read. Every check runs on real paths (links
 * resolved), so a link can neither escape the roots nor reach a forbidden area.
 */
export interface FsAccessOptions {
  /** Directories sources may read under; empty disables filesystem sources. */
  roots: string[];
  /** Never readable, even under a root: lakesync's own state and the kernel's pseudo-filesystems. */
  forbidden: ForbiddenArea[];
  /** Where the roots came from, named in refusals. */
  origin: string;
  /** The development default's home root: its hidden entries (~/.ssh, ~/.aws, ...) hold credentials. */
  privateHome?: string;
}

/** Always forbidden: the process's environment, memory and devices. */
export const SYSTEM_AREAS: ForbiddenArea[] = [
  { path: '/proc', what: 'the kernel process filesystem /proc' },
  { path: '/sys', what: 'the kernel filesystem /sys' },
  { path: '/dev', what: 'the device directory /dev' },
];

const within = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The real path of `p`, or for a path that does not exist yet, its nearest existing ancestor's real path joined with the rest. */
async function canonicalPath(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : resolve(await canonicalPath(parent), basename(abs));
  }
}

/** Resolved once per use: the real paths of the roots and forbidden areas. */
export interface ResolvedFsAccess {
  roots: string[];
  forbidden: ForbiddenArea[];
  privateHome?: string;
  /** Why `real` (a real path) is off limits, or null when a source may read it. */
  refusal(real: string): string | null;
  /** Why `real` lies in a forbidden area, or null; for pruning a listing already inside a root. */
  forbiddenReason(real: string): string | null;
}

export class FsAccess {
  constructor(private readonly o: FsAccessOptions) {}

  get roots(): readonly string[] {
    return this.o.roots;
  }

  get origin(): string {
    return this.o.origin;
  }

  /** One line for the start-up log: which directories sources may read. */
  describe(): string {
    if (this.o.roots.length === 0) return `filesystem sources disabled (${this.o.origin})`;
    const hidden = this.o.privateHome ? `, except hidden entries of ${this.o.privateHome}` : '';
    return `${this.o.roots.join(', ')} (${this.o.origin}${hidden}; never ${this.o.forbidden.map((f) => f.path).join(', ')})`;
  }

  async resolve(): Promise<ResolvedFsAccess> {
    const roots = await Promise.all(this.o.roots.map((r) => canonicalPath(r)));
    const forbidden = await Promise.all(this.o.forbidden.map(async (f) => ({ path: await canonicalPath(f.path), what: f.what })));
    const privateHome = this.o.privateHome ? await canonicalPath(this.o.privateHome) : undefined;
    const origin = this.o.origin;
    const forbiddenReason = (real: string): string | null => {
      const area = forbidden.find((f) => within(real, f.path));
      if (area) return `is inside ${area.what}, which filesystem sources may never read`;
      if (privateHome && real.startsWith(privateHome + sep) && real.slice(privateHome.length + 1).startsWith('.')) {
        return `is inside a hidden entry of the home directory (credentials live there), which the development default never reads; list it in LAKESYNC_FS_ROOTS to allow it`;
      }
      return null;
    };
    return {
      roots,
      forbidden,
      privateHome,
      forbiddenReason,
      refusal: (real) => {
        if (roots.length === 0) return 'cannot be read: filesystem sources are disabled (set LAKESYNC_FS_ROOTS)';
        if (!roots.some((r) => within(real, r))) return `is outside the allowed roots (${origin})`;
        return forbiddenReason(real);
      },
    };
  }

  /**
   * Where a filesystem source may read: its real path must be a directory
   * inside a root and outside every forbidden area. The API checks a path
   * when it is set; the worker again, against its own roots, before reading.
   */
  async checkSourceDir(path: string): Promise<{ real: string; access: ResolvedFsAccess } | { problem: string; notFound?: true }> {
    // Whether a path outside the roots exists, is a file or where its links lead is none of a tenant's business:
    // the roots are checked first, and a refusal never echoes a real path.
    const access = await this.resolve();
    // `..` after a link resolves against the link's target: `root/link/../etc/x` would probe the host.
    if (path.split('/').some((s) => s === '.' || s === '..')) return { problem: 'must not contain . or .. segments' };
    const real = await realpath(path).catch(() => null);
    if (!real) {
      const refusal = access.refusal(resolve(path));
      return refusal ? { problem: refusal } : { problem: 'does not exist', notFound: true };
    }
    const refusal = access.refusal(real);
    if (refusal) return { problem: `${refusal}${real !== resolve(path) ? ' (through a link)' : ''}` };
    const st = await stat(real).catch(() => null);
    if (!st?.isDirectory()) return { problem: 'is not a directory' };
    return { real, access };
  }
}
