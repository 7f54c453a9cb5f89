import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lstat } from 'node:fs/promises';
import { lookup } from 'mime-types';
import type { ResolvedFsAccess } from '../../domain/fs-roots.js';
import { HashingStream } from '../../lake/hashing.js';
import { DirWalk, fileEtag, readDirEntries, type ReadDir } from '../../lake/dir-walk.js';
import { openBeneath } from './safe-open.js';
import type { ListedObject, ListedPage, SourceReader } from './types.js';
import type { ObjectHead } from '../../domain/metadata-filters.js';

export interface FilesystemSourceOptions {
  /** The allowed roots and forbidden areas, resolved: listing prunes forbidden areas, opening re-checks. */
  access?: ResolvedFsAccess;
  readDir?: ReadDir;
  settledMs?: number;
}

/**
 * Lists a directory tree in byte order of the relative keys, so a listing can
 * resume after any key. Symlinks, FIFOs, sockets and devices are skipped,
 * never followed or opened. `root` is the source's real path.
 */
export class FilesystemSourceReader implements SourceReader {
  /** The walk the last page stopped in: the next page resumes it instead of re-reading the tree. */
  private paused: { walk: DirWalk; afterKey: string } | null = null;

  constructor(
    private readonly root: string,
    private readonly o: FilesystemSourceOptions = {},
  ) {}

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const paused = this.paused;
    this.paused = null;
    const walk =
      paused && afterKey !== null && paused.afterKey === afterKey && (await paused.walk.stillCurrent())
        ? paused.walk
        : new DirWalk(this.root, '', afterKey === null ? null : { after: afterKey }, {
            readDir: this.o.readDir,
            settledMs: this.o.settledMs,
            skip: this.o.access?.forbiddenReason,
          });
    const objects: ListedObject[] = [];
    while (objects.length < pageSize) {
      const obj = await walk.next();
      if (!obj) return { objects, nextAfterKey: null };
      objects.push(obj);
    }
    if ((await walk.peek()) === null) return { objects, nextAfterKey: null };
    const nextAfterKey = objects.at(-1)!.key;
    this.paused = { walk, afterKey: nextAfterKey };
    return { objects, nextAfterKey };
  }

  /**
   * One file as the listing would show it: a regular file reached through no
   * symlink and outside the forbidden areas, else null (as the walk skips it).
   */
  async stat(key: string): Promise<ListedObject | null> {
    const parts = key.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) return null;
    let path = this.root;
    for (const [i, part] of parts.entries()) {
      path = join(path, part);
      if (this.o.access?.forbiddenReason(path)) return null;
      // Only a missing path is a deleted file; anything else (EACCES, a hung mount's EIO) fails the look, as
      // the listing's walk does, rather than having an unreadable directory's files swept as deleted.
      const st = await lstat(path, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
        throw err;
      });
      if (!st || (i < parts.length - 1 ? !st.isDirectory() : !st.isFile())) return null;
      if (i === parts.length - 1) return { key, etag: fileEtag(st), size: Number(st.size), lastModified: new Date(Number(st.mtimeMs)) };
    }
    return null;
  }

  /** Where a sharded scan may cut (domain/shards.ts): the root's directories, as `name/` (their files' keys sort after it). */
  async topLevelDirectories(): Promise<string[]> {
    const entries = await (this.o.readDir ?? readDirEntries)(this.root);
    return entries.filter((e) => e.kind === 'dir' && this.o.access?.forbiddenReason(join(this.root, e.name)) == null).map((e) => `${e.name}/`);
  }

  /** Local reads are cheap: hash the file itself (opened as safely as a copy). */
  async contentHash(key: string): Promise<string | null> {
    const handle = await openBeneath(this.root, key, this.o.access);
    const hasher = new HashingStream();
    await pipeline(handle.createReadStream(), hasher, new Writable({ write: (_c, _e, done) => done() }));
    return hasher.contentHash();
  }

  /** A file has no user metadata; its content type is what its extension implies, as the copy stores it. */
  async head(key: string): Promise<ObjectHead | null> {
    return { contentType: lookup(key) || null, metadata: {} };
  }

  async openRead(key: string): Promise<{ body: Readable; contentType?: string }> {
    const handle = await openBeneath(this.root, key, this.o.access);
    return { body: handle.createReadStream(), contentType: lookup(key) || undefined };
  }
}
