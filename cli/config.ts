import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
/** Where `npm run dev` writes its token, relative to the directory it runs in. */
export const DEV_TOKEN_FILE = join('.lakesync', 'dev-token');

export interface CliConfig {
  url: string;
  /** Undefined when none is configured: the API then answers 401, which says so. */
  token: string | undefined;
}

const Url = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' });

/**
 * Flags win over the environment, which wins over the defaults; a token
 * falls back to the dev token so `npm run dev` + `npx lakesync` needs no setup.
 */
export async function resolveConfig(flags: { url?: string; token?: string }, env: Record<string, string | undefined>, cwd: string): Promise<CliConfig> {
  const rawUrl = flags.url ?? (env.LAKESYNC_URL || undefined) ?? DEFAULT_URL;
  const url = Url.safeParse(rawUrl);
  if (!url.success) throw new UsageError(`--url / LAKESYNC_URL: ${url.error.issues[0]?.message ?? 'is not a valid URL'}`);
  let token = flags.token ?? (env.LAKESYNC_TOKEN || undefined);
  if (token === undefined) {
    const fromFile = (await readFile(join(cwd, DEV_TOKEN_FILE), 'utf8').catch(() => '')).trim();
    token = fromFile || undefined;
  }
  return { url: url.data.replace(/\/+$/, ''), token };
}
