import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadEnv } from '../../config/env.js';
import { installSshd, startSshd, type SshdServer } from '../../infra/sshd-server.js';

/** sshd for one test file, installed into the cache on first use. */
export async function startTestSshd(): Promise<SshdServer> {
  const log = (m: string) => process.stderr.write(`[test-infra] ${m}\n`);
  const tools = await installSshd({ cacheDir: loadEnv().LAKESYNC_CACHE_DIR, log });
  return startSshd(tools, { log: () => undefined });
}

/**
 * Writes files under `dir` on the server's disk. `mtime` sets their
 * modification time: SFTP reports whole seconds, so a test that rewrites a
 * file within the second it was written sets one to make the change visible.
 */
export async function writeTree(dir: string, files: Map<string, Buffer>, mtime?: Date): Promise<void> {
  for (const [key, body] of files) {
    const path = join(dir, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    if (mtime) await utimes(path, mtime, mtime);
  }
}
