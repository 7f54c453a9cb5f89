import { createReadStream } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream } from './hashing.js';
import { lookup } from 'mime-types';
import { compareKeys } from './keys.js';
import type { ListedObject, ListedPage, SourceReader } from './types.js';

/**
 * Lists a directory tree in byte order of the relative keys, so a listing can
 * resume after any key. Symlinks are skipped, never followed.
 */
export class FilesystemSourceReader implements SourceReader {
  constructor(private readonly root: string) {}

  async listPage(afterKey: string | null, pageSize: number): Promise<ListedPage> {
    const objects: ListedObject[] = [];
    for await (const obj of this.walk('', afterKey)) {
      objects.push(obj);
      if (objects.length === pageSize) return { objects, nextAfterKey: obj.key };
    }
    return { objects, nextAfterKey: null };
  }

  private async *walk(prefix: string, afterKey: string | null): AsyncGenerator<ListedObject> {
    const dir = await opendir(join(this.root, prefix));
    const entries: { sortKey: string; name: string; isDir: boolean }[] = [];
    for await (const e of dir) {
      if (e.isDirectory()) entries.push({ sortKey: `${prefix}${e.name}/`, name: e.name, isDir: true });
      else if (e.isFile()) entries.push({ sortKey: `${prefix}${e.name}`, name: e.name, isDir: false });
    }
    // A directory sorts as "name/": every key inside it shares that prefix.
    entries.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const e of entries) {
      if (afterKey !== null) {
        if (e.isDir) {
          if (!afterKey.startsWith(e.sortKey) && compareKeys(e.sortKey, afterKey) < 0) continue;
        } else if (compareKeys(e.sortKey, afterKey) <= 0) continue;
      }
      if (e.isDir) {
        yield* this.walk(e.sortKey, afterKey);
      } else {
        const st = await lstat(join(this.root, e.sortKey), { bigint: true }).catch(() => null);
        if (!st || !st.isFile()) continue;
        yield {
          key: e.sortKey,
          etag: `${st.mtimeNs.toString(36)}-${st.size.toString(36)}`,
          size: Number(st.size),
          lastModified: new Date(Number(st.mtimeMs)),
        };
      }
    }
  }

  /** Local reads are cheap: hash the file itself. */
  async contentHash(key: string): Promise<string | null> {
    const hasher = new HashingStream();
    await pipeline(createReadStream(join(this.root, key)), hasher, new Writable({ write: (_c, _e, done) => done() }));
    return hasher.contentHash();
  }

  async openRead(key: string): Promise<{ body: Readable; contentType?: string }> {
    const body = createReadStream(join(this.root, key));
    await new Promise<void>((resolve, reject) => {
      body.once('open', () => resolve());
      body.once('error', reject);
    });
    return { body, contentType: lookup(key) || undefined };
  }
}
