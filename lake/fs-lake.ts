import { createReadStream, createWriteStream, type BigIntStats } from 'node:fs';
import { lstat, mkdir, opendir, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { lookup } from 'mime-types';
import { DigestCheck, HashingStream, type BodyDigests } from './hashing.js';
import { compareKeys, lakeKeyConflict, lakeKeyProblem, listPrefixProblem, unstorableKey } from './keys.js';
import { compareUtf8, DirWalk, fileEtag, readDirEntries, type ReadDir, type WalkStart } from './dir-walk.js';
import { ExactLength, multipartEtag, MultipartPartInvalid, MultipartUploadGone } from './multipart.js';
import type { DelimitedEntry, LakeObjectHead, LakeStore, ObjectMetadata, PutResult, S3Location, StoredPart } from './types.js';
import { setBounded } from '../domain/bounded-map.js';

/** The folder a listing prefix names; never one outside its bucket (`../other/` is another bucket, or the host). */
function listFolder(prefix: string): string {
  const problem = listPrefixProblem(prefix);
  if (problem) throw unstorableKey(prefix, problem);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? '';

/** Staging of multipart uploads, beside the buckets (never inside one, so no listing shows a part). */
const MULTIPART_DIR = '.multipart';
const HANDLE = /^[0-9a-f]{32}$/;
const PART_FILE = /^[0-9]{1,5}-[0-9a-f]{16}$/;

/** Paused listings kept for the next page (a few, briefly: each holds its directories' sorted entries). */
const MAX_PAUSED = 4;
const PAUSED_TTL_MS = 60_000;

export interface FilesystemLakeOptions {
  readDir?: ReadDir;
  settledMs?: number;
}

/** The declared SHA-256's check, when there is one (a file has no store to check it). */
const sha256Check = (digests: BodyDigests | undefined): DigestCheck[] => (digests?.sha256 === undefined ? [] : [new DigestCheck('sha256', digests.sha256)]);

/**
 * The embedded lake: one directory per bucket. Writes land in a temp file and
 * are renamed into place, so a crash never leaves a half-written object. A
 * directory cannot hold a file and a folder of the same name: such a key is
 * refused as a conflict, never half-stored.
 */
export class FilesystemLake implements LakeStore {
  /** The catalog holds what a write was given; `head` guesses the content type from the key. */
  readonly keepsMetadata = false;
  private readonly paused = new Map<string, { walk: DirWalk; afterKey: string; at: number }>();

  constructor(
    private readonly root: string,
    private readonly o: FilesystemLakeOptions = {},
  ) {}

  private path(bucket: string, key: string): string {
    const problem = lakeKeyProblem(key);
    if (problem) throw unstorableKey(key, problem);
    return join(this.root, bucket, key);
  }

  /** Why `err` (from creating `key`'s folders or renaming onto it) means the key cannot be stored, or null. */
  private refusal(key: string, err: unknown, step: 'folders' | 'file'): Error | null {
    const c = code(err);
    if (c === 'ENAMETOOLONG') return unstorableKey(key, 'is too long for the directory lake');
    if (step === 'folders' && (c === 'EEXIST' || c === 'ENOTDIR'))
      return lakeKeyConflict(key, 'needs a folder where the directory lake stores an object of that name');
    if (step === 'file' && (c === 'EISDIR' || c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'ENOTDIR'))
      return lakeKeyConflict(key, 'names a folder of the directory lake that holds other objects');
    return null;
  }

  /** Renames `from` to `key`'s path, creating its folders; parents pruned by a concurrent delete are made again. */
  private async place(bucket: string, key: string, from: string): Promise<void> {
    const target = this.path(bucket, key);
    for (let attempt = 0; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
      } catch (err) {
        throw this.refusal(key, err, 'folders') ?? err;
      }
      try {
        await rename(from, target);
        return;
      } catch (err) {
        if (code(err) === 'ENOENT' && attempt < 3) continue;
        // An empty folder left behind is no object: it gives way.
        if (
          code(err) === 'EISDIR' &&
          attempt < 3 &&
          (await rmdir(target).then(
            () => true,
            () => false,
          ))
        )
          continue;
        throw this.refusal(key, err, 'file') ?? err;
      }
    }
  }

  async put(bucket: string, key: string, body: Readable, meta: ObjectMetadata & { digests?: BodyDigests }): Promise<PutResult> {
    const target = this.path(bucket, key);
    // Refused before the body is read: a key whose folder is a stored object, or that is a folder of others.
    const existing = await stat(target).catch((err) => {
      const refused = this.refusal(key, err, 'folders');
      if (refused) throw refused;
      return null;
    });
    if (existing?.isDirectory()) await rmdir(target).catch((err) => Promise.reject(this.refusal(key, err, 'file') ?? err));
    const tmpDir = join(this.root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(12).toString('hex'));
    const hasher = new HashingStream(meta.digests?.md5);
    const out = createWriteStream(tmp, { flags: 'wx' });
    let st: BigIntStats;
    try {
      // pipeline also fails on a body that ended early (an aborted request) or failed a digest: never a half file in place.
      await pipeline([body, ...sha256Check(meta.digests), hasher, out]);
      // The rename keeps inode and mtime: what this file says is what HEAD will say until another write replaces it.
      st = await stat(tmp, { bigint: true });
      await this.place(bucket, key, tmp);
    } catch (err) {
      // The temp file's descriptor may still be opening: unlink once it is closed, or the file outlives the unlink.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const contentHash = hasher.contentHash();
    return { etag: fileEtag(st), size: hasher.bytes, contentHash, writeId: String(st.ino), s3Etag: contentHash.slice('md5:'.length) };
  }

  /** An upload's staging folder; handles and part names are checked, so no path leaves it. */
  private staging(handle: string, part?: string): string {
    if (!HANDLE.test(handle) || (part !== undefined && !PART_FILE.test(part))) throw new Error('not a multipart handle of the directory lake');
    return part === undefined ? join(this.root, MULTIPART_DIR, handle) : join(this.root, MULTIPART_DIR, handle, part);
  }

  /** A staging folder; the metadata is the catalog's to keep, as for `put`. */
  async createMultipart(bucket: string, key: string, _meta: ObjectMetadata): Promise<string> {
    this.path(bucket, key);
    const handle = randomBytes(16).toString('hex');
    await mkdir(this.staging(handle), { recursive: true });
    return handle;
  }

  /** A file of its own per stored part (a part stored again is a new file): the caller's state names the one that counts. */
  async uploadPart(bucket: string, key: string, handle: string, partNumber: number, body: Readable, size: number, digests?: BodyDigests): Promise<StoredPart> {
    this.path(bucket, key);
    const name = `${partNumber}-${randomBytes(8).toString('hex')}`;
    const file = this.staging(handle, name);
    const hasher = new HashingStream(digests?.md5);
    // Never creates the folder: a part arriving after abort or complete fails instead of leaving a stray file.
    const out = createWriteStream(file, { flags: 'wx' });
    try {
      await pipeline([body, new ExactLength(size), ...sha256Check(digests), hasher, out]);
    } catch (err) {
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await unlink(file).catch(() => undefined);
      throw code(err) === 'ENOENT' ? new MultipartUploadGone() : err;
    }
    return { partNumber, etag: hasher.contentHash().slice('md5:'.length), size: hasher.bytes, lakePart: name };
  }

  /** Streams the range: a directory lake has no server-side copy. */
  async uploadPartCopy(
    bucket: string,
    key: string,
    handle: string,
    partNumber: number,
    from: { bucket: string; key: string; range: { start: number; end: number } },
  ): Promise<StoredPart | null> {
    const got = await this.get(from.bucket, from.key, from.range);
    if (!got) return null;
    return this.uploadPart(bucket, key, handle, partNumber, got.body, from.range.end - from.range.start + 1);
  }

  /** Streams the parts into one temp file (hashing the whole content on the way), renames it into place, then drops the staging folder. */
  async completeMultipart(bucket: string, key: string, handle: string, parts: readonly StoredPart[]): Promise<PutResult> {
    this.path(bucket, key);
    const files = parts.map((p) => ({ path: this.staging(handle, p.lakePart), size: p.size }));
    if (!(await stat(this.staging(handle)).catch(() => null))) throw new MultipartUploadGone();
    const tmpDir = join(this.root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomBytes(12).toString('hex'));
    const hasher = new HashingStream();
    const out = createWriteStream(tmp, { flags: 'wx' });
    let st: BigIntStats;
    try {
      await pipeline(
        async function* () {
          for (const f of files) {
            let bytes = 0;
            for await (const chunk of createReadStream(f.path) as AsyncIterable<Buffer>) {
              bytes += chunk.length;
              yield chunk;
            }
            if (bytes !== f.size) throw new Error(`a stored part has ${bytes} bytes, not ${f.size}`);
          }
        },
        hasher,
        out,
      );
      st = await stat(tmp, { bigint: true });
      await this.place(bucket, key, tmp);
    } catch (err) {
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await unlink(tmp).catch(() => undefined);
      if (code(err) !== 'ENOENT') throw err;
      // The staging folder gone is the upload gone; a part file missing from it is a part the upload does not hold.
      throw (await stat(this.staging(handle)).catch(() => null)) ? new MultipartPartInvalid((err as Error).message) : new MultipartUploadGone();
    }
    await rm(this.staging(handle), { recursive: true, force: true });
    const contentHash = hasher.contentHash();
    return {
      etag: fileEtag(st),
      size: hasher.bytes,
      contentHash,
      writeId: String(st.ino),
      s3Etag: multipartEtag(parts.map((p) => p.etag)),
    };
  }

  async abortMultipart(_bucket: string, _key: string, handle: string): Promise<void> {
    await rm(this.staging(handle), { recursive: true, force: true });
  }

  async copyFrom(_bucket: string, _key: string, _from: S3Location, _size: number): Promise<PutResult | null> {
    return null;
  }

  async head(bucket: string, key: string): Promise<LakeObjectHead | null> {
    const st = await stat(this.path(bucket, key), { bigint: true }).catch(() => null);
    if (!st || !st.isFile()) return null;
    return {
      size: Number(st.size),
      etag: fileEtag(st),
      lastModified: new Date(Number(st.mtimeMs)),
      contentType: lookup(key) || undefined,
      writeId: String(st.ino),
    };
  }

  async get(bucket: string, key: string, range?: { start: number; end: number }): Promise<{ body: Readable; head: LakeObjectHead } | null> {
    const head = await this.head(bucket, key);
    if (!head) return null;
    // A range is cut to the size the head says, as S3 cuts it: never more bytes than the answer's Content-Length. One
    // wholly past the end reads nothing (the caller answers InvalidRange), and a read stream's end may not precede its start.
    const end = range && Math.max(range.start, Math.min(range.end, head.size - 1));
    return { body: createReadStream(this.path(bucket, key), range ? { start: range.start, end } : {}), head };
  }

  /**
   * Keys under `prefix` after `afterKey`: one walk from the cursor (reading
   * only the folders on its path and those it enters, stopping past the
   * prefix), resumed on the next page while its folders are unchanged.
   */
  async list(
    bucket: string,
    prefix: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ objects: (LakeObjectHead & { key: string })[]; more: boolean }> {
    const now = Date.now();
    for (const [k, p] of this.paused) if (now - p.at > PAUSED_TTL_MS) this.paused.delete(k);
    const slot = `${bucket}\0${prefix}`;
    const held = this.paused.get(slot);
    this.paused.delete(slot);
    let walk: DirWalk;
    if (held && afterKey !== null && held.afterKey === afterKey && (await held.walk.stillCurrent())) {
      walk = held.walk;
    } else {
      // Keys under a prefix are contiguous in byte order and all inside the folder the prefix names.
      const dir = listFolder(prefix);
      const start: WalkStart = afterKey !== null && compareKeys(afterKey, prefix) >= 0 ? { after: afterKey } : prefix ? { from: prefix } : null;
      walk = new DirWalk(join(this.root, bucket), dir, start, { readDir: this.o.readDir, settledMs: this.o.settledMs });
    }
    const objects: (LakeObjectHead & { key: string })[] = [];
    for (;;) {
      const o = await walk.peek().catch((err) => {
        if (objects.length === 0 && (code(err) === 'ENOENT' || code(err) === 'ENOTDIR')) return null;
        throw err;
      });
      if (!o || !o.key.startsWith(prefix)) return { objects, more: false };
      if (objects.length === limit) {
        setBounded(this.paused, slot, { walk, afterKey: objects.at(-1)!.key, at: now }, MAX_PAUSED);
        return { objects, more: true };
      }
      await walk.next();
      objects.push({ key: o.key, size: o.size, etag: o.etag, lastModified: o.lastModified ?? new Date(0), contentType: lookup(o.key) || undefined });
    }
  }

  /**
   * With `/` as delimiter a common prefix is a folder: one read of the folder
   * the prefix names answers the page, whatever lies below it.
   */
  async listDelimited(
    bucket: string,
    prefix: string,
    delimiter: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ entries: DelimitedEntry[]; more: boolean } | null> {
    if (delimiter !== '/') return null;
    const dir = listFolder(prefix);
    const path = join(this.root, bucket, dir);
    const raw = await (this.o.readDir ?? readDirEntries)(path).catch((err) => {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return [];
      throw err;
    });
    const candidates = raw
      .map((e) => ({ kind: e.kind, key: `${dir}${e.name}${e.kind === 'dir' ? '/' : ''}` }))
      .filter((e) => e.key.startsWith(prefix) && (afterKey === null || compareUtf8(e.key, afterKey) > 0))
      .sort((a, b) => compareUtf8(a.key, b.key));
    const entries: DelimitedEntry[] = [];
    for (const e of candidates) {
      if (e.kind === 'dir') {
        // A folder left empty is no common prefix: S3 would list nothing under it.
        if (await this.holdsObject(join(this.root, bucket, e.key))) {
          if (entries.length === limit) return { entries, more: true };
          entries.push({ kind: 'prefix', key: e.key });
        }
        continue;
      }
      const st = await lstat(join(this.root, bucket, e.key), { bigint: true }).catch(() => null);
      if (!st?.isFile()) continue;
      if (entries.length === limit) return { entries, more: true };
      entries.push({
        kind: 'object',
        key: e.key,
        size: Number(st.size),
        etag: fileEtag(st),
        lastModified: new Date(Number(st.mtimeMs)),
        contentType: lookup(e.key) || undefined,
      });
    }
    return { entries, more: false };
  }

  /** Whether a folder holds a file anywhere below it: reads entries only until the first file (a big folder costs one small read). */
  private async holdsObject(path: string): Promise<boolean> {
    const dirs: string[] = [];
    try {
      for await (const e of await opendir(path, { bufferSize: 32 })) {
        if (e.isFile()) return true;
        if (e.isDirectory()) dirs.push(e.name);
      }
    } catch (err) {
      if (code(err) === 'ENOENT' || code(err) === 'ENOTDIR') return false;
      throw err;
    }
    for (const d of dirs) if (await this.holdsObject(join(path, d))) return true;
    return false;
  }

  /** Temp files of writes a killed process never finished (no live write is that old). */
  async removeStaleTemp(maxAgeMs: number): Promise<number> {
    const dir = join(this.root, '.tmp');
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const st = await lstat(join(dir, name)).catch(() => null);
      if (
        st?.isFile() &&
        Date.now() - st.mtimeMs > maxAgeMs &&
        (await unlink(join(dir, name)).then(
          () => true,
          () => false,
        ))
      )
        removed++;
    }
    return removed;
  }

  async move(bucket: string, from: string, to: string): Promise<boolean> {
    try {
      await this.place(bucket, to, this.path(bucket, from));
    } catch (err) {
      if (code(err) === 'ENOENT') return false;
      throw err;
    }
    await this.prune(bucket, from);
    return true;
  }

  async delete(bucket: string, key: string): Promise<void> {
    try {
      await unlink(this.path(bucket, key));
    } catch (err) {
      // Nothing stored under that key: a missing file, or a folder of other objects.
      if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM'].includes(code(err))) throw err;
      return;
    }
    await this.prune(bucket, key);
  }

  /** Removes the folders a removal left empty, so a later key of the same name is no conflict. */
  private async prune(bucket: string, key: string): Promise<void> {
    const parts = key.split('/').slice(0, -1);
    for (let n = parts.length; n > 0; n--) {
      const removed = await rmdir(join(this.root, bucket, ...parts.slice(0, n))).then(
        () => true,
        () => false,
      );
      if (!removed) return;
    }
  }

  async copyWithin(from: { bucket: string; key: string }, to: { bucket: string; key: string }, meta: ObjectMetadata): Promise<PutResult | null> {
    // The directory lake has no server side: the bytes stream from one file into the other's temp file.
    const got = await this.get(from.bucket, from.key);
    if (!got) return null;
    // put() awaits before it reads: the stream keeps an early error for put's pipeline instead of throwing it unheard.
    got.body.on('error', () => undefined);
    return this.put(to.bucket, to.key, got.body, meta);
  }
}
