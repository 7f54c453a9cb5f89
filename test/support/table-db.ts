/**
 * A database of its own in the suite's embedded Postgres, for table sources:
 * created with a login role that may only read, dropped (with the role) when
 * the test file is done.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { unique } from './lakesync.js';

export interface TableDb {
  /** The owner's connection to the new database, to create and change tables. */
  sql: postgres.Sql;
  host: string;
  port: number;
  database: string;
  /** A role that logs in with `password` and may only read what it is granted. */
  user: string;
  password: string;
  /** Lets the reader role read a table. */
  grant(table: string): Promise<void>;
  drop(): Promise<void>;
}

export async function createTableDb(prefix: string): Promise<TableDb> {
  const adminUrl = inject('infra').postgresAdminUrl;
  const database = unique(prefix).replace(/-/g, '_');
  const user = `${database}_reader`;
  const password = randomBytes(18).toString('base64url');
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  // Names made here from a fixed prefix: nothing tenant-given reaches these statements.
  await admin.unsafe(`create database "${database}"`);
  await admin.unsafe(`create role "${user}" login password '${password}'`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const sql = postgres(url.toString(), { max: 2, onnotice: () => undefined });
  return {
    sql,
    host: url.hostname,
    port: Number(url.port),
    database,
    user,
    password,
    grant: async (table) => {
      await sql.unsafe(`grant select on "${table}" to "${user}"`);
    },
    drop: async () => {
      await sql.end();
      await admin.unsafe(`drop database if exists "${database}" with (force)`);
      await admin.unsafe(`drop role if exists "${user}"`);
      await admin.end();
    },
  };
}
