/**
 * s3sync (a Rust S3 sync tool, the fastest we know of), a peer in the
 * benchmark only: built from a pinned crate release with
 * `cargo install --locked` (its own lock file, so exactly that build) into a
 * versioned directory under the cache, once, race-safely
 * (infra/install-dir.ts). The build takes minutes of every core, so nothing
 * but `npm run bench` asks for it; never taken from PATH.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';

const run = promisify(execFile);

/** Bumping it is a reviewed change: the benchmark's s3sync flags are checked against this release. */
const S3SYNC_VERSION = '1.62.4';

export async function installS3sync(opts: { cacheDir: string; explicitPath?: string; log: (message: string) => void }): Promise<string> {
  if (opts.explicitPath !== undefined) {
    if (await isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new Error(`LAKESYNC_S3SYNC_PATH=${opts.explicitPath} is not an executable file`);
  }
  const dir = join(opts.cacheDir, `s3sync-${S3SYNC_VERSION}`);
  const binary = (d: string) => join(d, 'bin', 's3sync');
  await installDirOnce(
    dir,
    (d) => isExecutable(binary(d)),
    async (scratch) => {
      opts.log(`s3sync: building ${S3SYNC_VERSION} with cargo install (about 8 minutes of every core, once)`);
      const started = performance.now();
      try {
        await run('cargo', ['install', 's3sync', '--version', S3SYNC_VERSION, '--locked', '--root', scratch], { maxBuffer: 64 << 20 });
      } catch (err) {
        throw new Error(`could not build s3sync with cargo install: ${describe(err)}. Set LAKESYNC_S3SYNC_PATH to an s3sync binary.`);
      }
      opts.log(`s3sync: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
  );
  return binary(dir);
}
