import { join } from 'node:path';
import { findTemporalCli } from './binaries.js';
import { ensureDatabase, startEmbeddedPostgres } from './postgres-server.js';
import { startStep } from './startup-failure.js';
import { startTemporalDevServer } from './temporal-server.js';

/** Temporal's conventional ports, so a bare `temporal workflow list` and the usual Web UI address work; drawn ports when taken. */
export const TEMPORAL_CONVENTIONAL_PORT = 7233;
const TEMPORAL_CONVENTIONAL_UI_PORT = 8233;

export interface EmbeddedOptions {
  stateDir: string;
  cacheDir: string;
  searchPath: string;
  temporalCliPath?: string;
  temporalAddress?: string;
  databaseUrl?: string;
  /** The Web UI's port as configured (TEMPORAL_UI_PORT); else 8233 when free. */
  uiPort?: number;
  log: (m: string) => void;
  /** Told each server's pid as it starts (dev records them in its lock). */
  onServer?: (pid: number) => void;
  /** Aborted (Ctrl-C during start-up): no further server is started, those already started are stopped, and this throws. */
  signal?: AbortSignal;
}

export interface EmbeddedServices {
  temporalAddress: string;
  temporalUiUrl?: string;
  /** When Temporal was started here: resolves once its server has exited. */
  temporalExited?: Promise<void>;
  databaseUrl: string;
  stop(): Promise<void>;
}

/** Stops the servers last started first; `stops` itself is left in its order, so a second call stops them in the same order. */
async function stopAll(stops: readonly (() => Promise<void>)[]): Promise<void> {
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
}

/**
 * The embedded defaults: whatever is not configured (TEMPORAL_ADDRESS,
 * DATABASE_URL) is started here, persisting under the state directory so a
 * restart resumes where it stopped.
 */
export async function startEmbeddedServices(o: EmbeddedOptions): Promise<EmbeddedServices> {
  const stops: (() => Promise<void>)[] = [];
  try {
    o.signal?.throwIfAborted();
    let temporalAddress = o.temporalAddress;
    let temporalUiUrl: string | undefined;
    let temporalExited: Promise<void> | undefined;
    if (!temporalAddress) {
      const binary = await startStep('Temporal CLI', () =>
        findTemporalCli({ explicitPath: o.temporalCliPath, searchPath: o.searchPath, cacheDir: o.cacheDir, log: o.log }),
      );
      const server = await startStep('Temporal dev server', () =>
        startTemporalDevServer({
          binary,
          dbFilename: join(o.stateDir, 'temporal', 'temporal.db'),
          uiPort: o.uiPort,
          preferPort: TEMPORAL_CONVENTIONAL_PORT,
          preferUiPort: TEMPORAL_CONVENTIONAL_UI_PORT,
          log: o.log,
        }),
      );
      stops.push(server.stop);
      o.onServer?.(server.pid);
      temporalAddress = server.address;
      temporalUiUrl = server.uiUrl;
      temporalExited = server.exited;
      o.signal?.throwIfAborted();
    }
    let databaseUrl = o.databaseUrl;
    if (!databaseUrl) {
      const pg = await startStep('embedded Postgres', () => startEmbeddedPostgres({ dataDir: join(o.stateDir, 'postgres'), persistent: true, log: o.log }));
      stops.push(pg.stop);
      o.onServer?.(pg.pid);
      o.signal?.throwIfAborted();
      await startStep('embedded Postgres', () => ensureDatabase(pg.url, 'lakesync'));
      databaseUrl = pg.urlFor('lakesync');
    }
    return {
      temporalAddress,
      temporalUiUrl,
      temporalExited,
      databaseUrl,
      stop: () => stopAll(stops),
    };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}
