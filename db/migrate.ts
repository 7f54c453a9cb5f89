import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Applies the committed drizzle-kit migrations over a dedicated single
 * connection. An API and a worker starting together on an empty database
 * would both create the tables: a session advisory lock on that connection
 * lets one migrate while the other waits, then finds nothing left to do.
 * Postgres drops the lock with the session should this process die.
 */
export async function runMigrations(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await client`select pg_advisory_lock(hashtext('lakesync.migrations'))`;
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client`select pg_advisory_unlock(hashtext('lakesync.migrations'))`;
    }
  } finally {
    await client.end();
  }
}
