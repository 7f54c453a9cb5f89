/**
 * The Temporal server (its frontend, history, matching and worker services in
 * one binary) and its SQL schema tool, for the cluster tests
 * (infra/temporal-cluster.ts). Built from the pinned release with `go install`
 * (its go.mod has no `replace`, so the module proxy builds exactly that
 * release) into a versioned directory under the cache, once, race-safely
 * (infra/install-dir.ts); never taken from PATH.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';

const run = promisify(execFile);

/**
 * The server version lakesync is tested against, and docker-compose.yml runs
 * (test/unit/compose.test.ts compares them). Bumping it is a reviewed change:
 * check the new release's go.mod for `replace` directives and its schema
 * upgrade notes first.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.32.0';

export interface TemporalServerTools {
  /** `temporal-server` (go.temporal.io/server/cmd/server). */
  server: string;
  /** `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql). */
  sqlTool: string;
}

export async function installTemporalServer(opts: {
  cacheDir: string;
  explicit?: { server?: string; sqlTool?: string };
  log: (message: string) => void;
}): Promise<TemporalServerTools> {
  const { server, sqlTool } = opts.explicit ?? {};
  if (server !== undefined || sqlTool !== undefined) {
    if (server === undefined || sqlTool === undefined)
      throw new Error('set both LAKESYNC_TEMPORAL_SERVER_PATH and LAKESYNC_TEMPORAL_SQL_TOOL_PATH, or neither');
    for (const [name, path] of [
      ['LAKESYNC_TEMPORAL_SERVER_PATH', server],
      ['LAKESYNC_TEMPORAL_SQL_TOOL_PATH', sqlTool],
    ] as const)
      if (!(await isExecutable(path))) throw new Error(`${name}=${path} is not an executable file`);
    return { server, sqlTool };
  }
  const dir = join(opts.cacheDir, `temporal-server-go-${TEMPORAL_SERVER_VERSION}`);
  const tools = (d: string): TemporalServerTools => ({ server: join(d, 'server'), sqlTool: join(d, 'sql') });
  const ready = async (d: string) => (await isExecutable(tools(d).server)) && (await isExecutable(tools(d).sqlTool));
  await installDirOnce(dir, ready, async (scratch) => {
    opts.log(`temporal server: building ${TEMPORAL_SERVER_VERSION} with go install (several minutes, once)`);
    const started = performance.now();
    const module = 'go.temporal.io/server';
    try {
      await run('go', ['install', `${module}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${module}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], {
        // The build and module caches shared with the other go installs (infra/grpcurl.ts), kept out of $HOME's.
        env: { ...process.env, GOBIN: scratch, GOCACHE: join(opts.cacheDir, 'go', 'build'), GOMODCACHE: join(opts.cacheDir, 'go', 'mod'), CGO_ENABLED: '0' },
        maxBuffer: 64 << 20,
      });
    } catch (err) {
      throw new Error(
        `could not build the Temporal server with go install: ${describe(err)}. Set LAKESYNC_TEMPORAL_SERVER_PATH and LAKESYNC_TEMPORAL_SQL_TOOL_PATH to built binaries.`,
      );
    }
    opts.log(`temporal server: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return tools(dir);
}
