import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { lookup } from 'mime-types';
import { HashingStream } from './hashing.js';
import { compareKeys, lakeKeyProblem } from './keys.js';
import { FilesystemSourceReader } from './fs-source.js';
import type { LakeObjectHead, LakeStore, PutResult, S3Location } from './types.js';

/**
 * The embedded lake: one directory per bucket. Writes land in a temp file and
 * are renamed into place, so a crash never leaves a half-written object.
 */
export class FilesystemLake implements LakeStore {
  constructor(private readonly root: string) {}

  private path(bucket: string, key: string): string {
    const problem = lakeKeyProblem(key);
    if (problem) throw new Error(`lake key ${JSON.stringify(key)} ${problem}`);
    return join(this.root, bucket, key);
  }

  async put(bucket: string, key: string, body: Readable, _meta: { contentType?: string }): Promise<PutResult> {
    const target = this.path(bucket, key);
    const tmpDir = join(this.root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(tmpDir, randomBytes(12).toString('hex'));
    const hasher = new HashingStream();
    try {
      await pipeline(body, hasher, createWriteStream(tmp));
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    // The ETag is what HEAD and listings report (mtime and size), so conditional requests agree with it.
    const st = await stat(target, { bigint: true });
    return { etag: `${st.mtimeNs.toString(36)}-${st.size.toString(36)}`, size: hasher.bytes, contentHash: hasher.contentHash() };
  }

  async copyFrom(_bucket: string, _key: string, _from: S3Location, _size: number): Promise<PutResult | null> {
    return null;
  }

  async head(bucket: string, key: string): Promise<LakeObjectHead | null> {
    const st = await stat(this.path(bucket, key), { bigint: true }).catch(() => null);
    if (!st || !st.isFile()) return null;
    return { size: Number(st.size), etag: `${st.mtimeNs.toString(36)}-${st.size.toString(36)}`, lastModified: new Date(Number(st.mtimeMs)), contentType: lookup(key) || undefined };
  }

  async get(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; head: LakeObjectHead } | null> {
    const head = await this.head(bucket, key);
    if (!head) return null;
    return { body: createReadStream(this.path(bucket, key), range ? { start: range.start, end: range.end } : {}), head };
  }

  async list(bucket: string, prefix: string, afterKey: string | null, limit: number): Promise<{ objects: (LakeObjectHead & { key: string })[]; more: boolean }> {
    // Walk only the directory the prefix names; keys under a prefix are contiguous in byte order.
    const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    const root = join(this.root, bucket, dir);
    if (!(await stat(root).catch(() => null))?.isDirectory()) return { objects: [], more: false };
    const reader = new FilesystemSourceReader(root);
    const objects: (LakeObjectHead & { key: string })[] = [];
    let cursor = afterKey !== null && afterKey.startsWith(dir) ? afterKey.slice(dir.length) : null;
    for (;;) {
      const page = await reader.listPage(cursor, Math.max(limit * 2, 100));
      for (const o of page.objects) {
        const key = dir + o.key;
        if (!key.startsWith(prefix)) {
          if (compareKeys(key, prefix) > 0) return { objects, more: false };
          continue;
        }
        if (afterKey !== null && compareKeys(key, afterKey) <= 0) continue;
        if (objects.length === limit) return { objects, more: true };
        objects.push({ key, size: o.size, etag: o.etag, lastModified: o.lastModified ?? new Date(0), contentType: lookup(key) || undefined });
      }
      if (page.nextAfterKey === null) return { objects, more: false };
      cursor = page.nextAfterKey;
    }
  }

  async move(bucket: string, from: string, to: string): Promise<boolean> {
    const target = this.path(bucket, to);
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(this.path(bucket, from), target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async delete(bucket: string, key: string): Promise<void> {
    await rm(this.path(bucket, key), { force: true });
  }
}
