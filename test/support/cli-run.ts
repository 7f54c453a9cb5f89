/** The lakesync CLI as a user runs it against a test lakesync (its output merged), for the source kinds' e2e files. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { TestLakesync } from './lakesync.js';

const launcher = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin', 'lakesync.mjs');

/** A runner of `lakesync …` against `ls`; `neverShows` (a credential) must appear in none of its output. */
export async function cliAgainst(ls: TestLakesync, neverShows: string): Promise<(...args: string[]) => Promise<{ code: number | null; out: string }>> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LAKESYNC_URL: ls.url, LAKESYNC_TOKEN: await ls.token() };
  return async (...args) => {
    const child = spawn(process.execPath, [launcher, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(out).not.toContain(neverShows);
    return { code, out };
  };
}
