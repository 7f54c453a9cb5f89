import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Dev only: a credential-sealing key generated once and kept in the state directory. */
export async function devSecretKey(path: string): Promise<string> {
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing) return existing.trim();
  const key = randomBytes(32).toString('base64');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, key, { mode: 0o600 });
  return key;
}
