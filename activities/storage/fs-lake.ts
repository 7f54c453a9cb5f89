import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { lookup } from 'mime-types';
import { HashingStream } from './hashing.js';
import { lakeKeyProblem } from './keys.js';
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
    const contentHash = hasher.contentHash();
    return { etag: contentHash.slice(4), size: hasher.bytes, contentHash };
  }

  async copyFrom(_bucket: string, _key: string, _from: S3Location, _size: number): Promise<PutResult | null> {
    return null;
  }

  async head(bucket: string, key: string): Promise<LakeObjectHead | null> {
    const st = await stat(this.path(bucket, key)).catch(() => null);
    if (!st || !st.isFile()) return null;
    return { size: st.size, etag: `${st.mtimeMs.toString(36)}-${st.size.toString(36)}`, lastModified: st.mtime, contentType: lookup(key) || undefined };
  }

  async get(bucket: string, key: string): Promise<Readable> {
    return createReadStream(this.path(bucket, key));
  }

  async delete(bucket: string, key: string): Promise<void> {
    await rm(this.path(bucket, key), { force: true });
  }
}
