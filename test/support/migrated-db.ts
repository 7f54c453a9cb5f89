import { afterAll, beforeAll, inject } from 'vitest';
import { closeDb, createDb, type Db } from '../../db/client.js';
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

/**
 * Before the file's tests, a migrated database of its own holding bucket b1, opened with the application's
 * client (drizzle sets how it sends JSON and reads times) and handed to `use`; closed after them.
 */
export function withCatalogDatabase(prefix: string, use: (db: Db) => void | Promise<void>, connections = 2): void {
  let db: Db | undefined;
  beforeAll(async () => {
    db = createDb(await migratedDatabase(prefix), connections);
    await db.$client`insert into buckets (id, name) values ('b1', 'bucket-one')`;
    await use(db);
  });
  afterAll(async () => {
    if (db) await closeDb(db);
  });
}
