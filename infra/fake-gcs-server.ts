/**
 * fake-gcs-server, the Cloud Storage emulator the gcs source is tested
 * against: built from a pinned release with `go install` (its go.mod has no
 * `replace`, so the module proxy builds exactly that release) into a
 * versioned directory under the cache, once, race-safely
 * (infra/install-dir.ts); started on loopback by the tests like MinIO.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, isExecutable } from './binaries.js';
import { installDirOnce } from './install-dir.js';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

const run = promisify(execFile);

/** Bumping it is a reviewed change; check the new release's go.mod for `replace` directives first. */
const FAKE_GCS_GO_VERSION = 'v1.56.1';

export async function installFakeGcsServer(opts: { cacheDir: string; explicitPath?: string; log: (message: string) => void }): Promise<string> {
  if (opts.explicitPath !== undefined) {
    if (await isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new Error(`LAKESYNC_FAKE_GCS_PATH=${opts.explicitPath} is not an executable file`);
  }
  const dir = join(opts.cacheDir, `fake-gcs-server-go-${FAKE_GCS_GO_VERSION}`);
  const ready = (d: string) => isExecutable(join(d, 'fake-gcs-server'));
  await installDirOnce(dir, ready, async (scratch) => {
    opts.log(`fake-gcs-server: building ${FAKE_GCS_GO_VERSION} with go install (a few minutes, once)`);
    const started = performance.now();
    try {
      await run('go', ['install', `github.com/fsouza/fake-gcs-server@${FAKE_GCS_GO_VERSION}`], {
        // The build and module caches shared with the other go installs (infra/grpcurl.ts), kept out of $HOME's.
        env: { ...process.env, GOBIN: scratch, GOCACHE: join(opts.cacheDir, 'go', 'build'), GOMODCACHE: join(opts.cacheDir, 'go', 'mod'), CGO_ENABLED: '0' },
        maxBuffer: 64 << 20,
      });
    } catch (err) {
      throw new Error(`could not build fake-gcs-server with go install: ${describe(err)}. Set LAKESYNC_FAKE_GCS_PATH to a fake-gcs-server binary.`);
    }
    opts.log(`fake-gcs-server: installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return join(dir, 'fake-gcs-server');
}

export interface FakeGcsServer {
  /** The JSON API's base URL, as a gcs source's `endpoint`. */
  endpoint: string;
  stop(): Promise<void>;
}

interface FakeGcsOptions {
  binary: string;
  /** A fixed port and a directory to keep objects in, to start a stopped emulator again as the same one (outage tests); else a drawn port and memory. */
  port?: number;
  dataDir?: string;
  log: (m: string) => void;
}

/** An emulator on loopback over plain HTTP. */
export function startFakeGcsServer(opts: FakeGcsOptions): Promise<FakeGcsServer> {
  return withFreshPorts(async () => {
    const port = opts.port ?? (await freePort());
    const endpoint = `http://127.0.0.1:${port}`;
    const backend = opts.dataDir ? ['-backend', 'filesystem', '-filesystem-root', opts.dataDir] : ['-backend', 'memory'];
    const child = spawn(
      opts.binary,
      [
        '-scheme',
        'http',
        '-host',
        '127.0.0.1',
        '-port',
        String(port),
        ...backend,
        '-public-host',
        `127.0.0.1:${port}`,
        '-external-url',
        endpoint,
        '-log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    tetherToThisProcess(child.pid!, 'TERM');
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    await waitUntil(
      'fake-gcs-server',
      async () => {
        if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${stderr}`);
        const res = await fetch(`${endpoint}/storage/v1/b`);
        if (!res.ok) throw new Error(`listing buckets answered ${res.status}`);
      },
      60_000,
    ).catch(async (err) => {
      await stopProcess(child, 'SIGKILL');
      throw err;
    });
    opts.log(`fake-gcs-server: emulator on ${endpoint}`);
    return { endpoint, stop: () => stopProcess(child, 'SIGTERM') };
  });
}
