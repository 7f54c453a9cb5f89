/**
 * grpcurl, the gRPC client K3's documentation drives its RPCs with: the
 * tests call lakesync's gRPC server through it as a user would. Built from a
 * pinned release with `go install` (its go.mod has no `replace`, so the
 * module proxy builds exactly that release) into a versioned directory under
 * the cache, once, race-safely (infra/install-dir.ts); never taken from PATH.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';

const run = promisify(execFile);

/** Bumping it is a reviewed change; check the new release's go.mod for `replace` directives first. */
const GRPCURL_GO_VERSION = 'v1.9.4';

export async function installGrpcurl(opts: { cacheDir: string; explicitPath?: string; log: (message: string) => void }): Promise<string> {
  if (opts.explicitPath !== undefined) {
    if (await isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new Error(`LAKESYNC_GRPCURL_PATH=${opts.explicitPath} is not an executable file`);
  }
  const dir = join(opts.cacheDir, `grpcurl-go-${GRPCURL_GO_VERSION}`);
  const ready = (d: string) => isExecutable(join(d, 'grpcurl'));
  await installDirOnce(dir, ready, async (scratch) => {
    opts.log(`grpcurl: building ${GRPCURL_GO_VERSION} with go install (a minute or two, once)`);
    const started = performance.now();
    try {
      await run('go', ['install', `github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_GO_VERSION}`], {
        // The build and module caches shared with the other go installs (infra/s3-clients.ts), kept out of $HOME's.
        env: { ...process.env, GOBIN: scratch, GOCACHE: join(opts.cacheDir, 'go', 'build'), GOMODCACHE: join(opts.cacheDir, 'go', 'mod'), CGO_ENABLED: '0' },
        maxBuffer: 64 << 20,
      });
    } catch (err) {
      throw new Error(`could not build grpcurl with go install: ${describe(err)}. Set LAKESYNC_GRPCURL_PATH to a grpcurl binary.`);
    }
    opts.log(`grpcurl: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return join(dir, 'grpcurl');
}
