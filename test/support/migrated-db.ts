import { inject } from 'vitest';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { runMigrations } from '../../db/migrate.js';
import { unique } from './lakesync.js';

/** A database of the test file's own in the suite's Postgres, with lakesync's schema migrated in: its URL. */
export async function migratedDatabase(prefix: string): Promise<string> {
  const adminUrl = inject('infra').postgresAdminUrl;
  const name = unique(prefix).replace(/-/g, '_');
  await ensureDatabase(adminUrl, name);
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  await runMigrations(url);
  return url;
}
