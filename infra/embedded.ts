import { join } from 'node:path';
import { findTemporalCli } from './binaries.js';
import { ensureDatabase, startEmbeddedPostgres } from './postgres-server.js';
import { startTemporalDevServer } from './temporal-server.js';

export interface EmbeddedOptions {
  stateDir: string;
  cacheDir: string;
  searchPath: string;
  temporalCliPath?: string;
  temporalAddress?: string;
  databaseUrl?: string;
  uiPort?: number;
  log: (m: string) => void;
}

export interface EmbeddedServices {
  temporalAddress: string;
  temporalUiUrl?: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * The embedded defaults: whatever is not configured (TEMPORAL_ADDRESS,
 * DATABASE_URL) is started here, persisting under the state directory so a
 * restart resumes where it stopped.
 */
export async function startEmbeddedServices(o: EmbeddedOptions): Promise<EmbeddedServices> {
  const stops: (() => Promise<void>)[] = [];
  try {
    let temporalAddress = o.temporalAddress;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const binary = await findTemporalCli({ explicitPath: o.temporalCliPath, searchPath: o.searchPath, cacheDir: o.cacheDir, log: o.log });
      const server = await startTemporalDevServer({ binary, dbFilename: join(o.stateDir, 'temporal', 'temporal.db'), uiPort: o.uiPort, log: o.log });
      stops.push(server.stop);
      temporalAddress = server.address;
      temporalUiUrl = server.uiUrl;
    }
    let databaseUrl = o.databaseUrl;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: join(o.stateDir, 'postgres'), persistent: true, log: o.log });
      stops.push(pg.stop);
      await ensureDatabase(pg.url, 'lakesync');
      databaseUrl = pg.urlFor('lakesync');
    }
    return {
      temporalAddress,
      temporalUiUrl,
      databaseUrl,
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}
