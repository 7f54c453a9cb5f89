import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { Readable } from 'node:stream';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The corpus the foundation tests sync: nested keys, odd names, mixed sizes, one ≥ 32 MiB. */
export function corpus(count: number, opts: { bigBytes?: number } = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('with space/ünïcødé 名前 file.txt', Buffer.from('unicode and spaces survive the trip\n'));
  files.set('big/large-object.bin', randomBytes(opts.bigBytes ?? 33 * 1024 * 1024));
  files.set('empty.txt', Buffer.alloc(0));
  for (let i = 0; files.size < count; i++) {
    const size = i % 17 === 0 ? 256 * 1024 + i : 1 + ((i * 7919) % 20_000);
    files.set(`dir${i % 5}/sub${i % 3}/object-${String(i).padStart(4, '0')}.bin`, randomBytes(size));
  }
  return files;
}

export async function putAll(client: S3Client, bucket: string, prefix: string, files: Map<string, Buffer>): Promise<void> {
  const limit = pLimit(16);
  await Promise.all([...files].map(([key, body]) => limit(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: body })))));
}

export async function writeAll(root: string, files: Map<string, Buffer>): Promise<void> {
  for (const [key, body] of files) {
    await mkdir(dirname(join(root, key)), { recursive: true });
    await writeFile(join(root, key), body);
  }
}

export async function s3Sha(client: S3Client, bucket: string, key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of res.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Relative paths of the files under `dir` (none when it does not exist), sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Each file under `root` with the sha256 of its bytes: a directory lake, compared byte for byte. */
export async function tree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await listFiles(root)) out.set(key, sha256(await readFile(join(root, key))));
  return out;
}
