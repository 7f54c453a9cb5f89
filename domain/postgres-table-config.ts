/**
 * Postgres table sources: one table, each row one JSON object in the lake.
 * Settings as stored (no secrets) and the create and PATCH parts, whose
 * password is split off to be sealed. Identifiers are checked here against a
 * conservative rule and quoted by the driver where they are used; the worker
 * also confirms each one against the database's catalog before any scan.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { patchOf } from './patch-of.js';
import { text } from './text.js';

/**
 * A table, schema or column name: letters, digits, `_`, `$`, `-` and spaces,
 * not starting with a digit, at most Postgres's 63 bytes. No dots (the driver
 * reads a dot as a qualifier), no quotes.
 */
export const SqlIdentifier = text()
  .min(1)
  .refine((v) => Buffer.byteLength(v) <= 63, 'must be at most 63 bytes (Postgres truncates longer names)')
  .refine((v) => /^[\p{L}_][\p{L}\p{N}_$ -]*$/u.test(v), 'must be a table or column name (letters, digits, _, $, - and spaces; no dots or quotes)');

/** A hostname or an IP address, never a URL: the destination policy checks it at the edge and when connecting. */
const Host = text()
  .min(1)
  .max(253)
  .refine((v) => isIP(v) !== 0 || /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$/.test(v), 'must be a hostname or an IP address');

export const PostgresTableConnectionSchema = z
  .object({
    host: Host,
    port: z.number().int().min(1).max(65535).default(5432),
    database: SqlIdentifier,
    user: text().min(1).max(63),
    schema: SqlIdentifier.default('public'),
    table: SqlIdentifier,
    /** The key of each row's object; the table's primary key when absent (it must be one column, or unique). */
    keyColumn: SqlIdentifier.optional(),
    /** The change token (a row version, an updated-at column); a hash of the row's content when absent. */
    versionColumn: SqlIdentifier.optional(),
    /** The columns each object holds; every column when absent. */
    columns: z.array(SqlIdentifier).min(1).max(1600).optional(),
    /** `verify-full` checks the server's certificate and name (against the system's CAs); `disable` only on trusted networks. */
    ssl: z.enum(['verify-full', 'require', 'disable']).default('verify-full'),
    /** Every statement the source runs is cancelled after this long: a runaway scan never holds the table. */
    statementTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
  })
  .strict();
export type PostgresTableConnection = z.infer<typeof PostgresTableConnectionSchema>;

/** What is sealed. */
export interface PostgresTableCredentials {
  password: string;
}

const Password = text().min(1).max(1024);

export const PostgresTableCreateInput = PostgresTableConnectionSchema.extend({ password: Password }).strict();
export const PostgresTablePatchInput = patchOf(PostgresTableConnectionSchema).extend({ password: Password.optional() }).strict();

export type PostgresTableCreate = z.output<typeof PostgresTableCreateInput>;
export type PostgresTablePatch = z.output<typeof PostgresTablePatchInput>;

/** The host as the destination policy reads it: a URL's, so IPv6 literals are bracketed. */
export const postgresHostUrl = (s: { host: string; port: number }): string => `postgres://${isIP(s.host) === 6 ? `[${s.host}]` : s.host}:${s.port}`;

export function splitPostgresTableCreate({ password, ...settings }: PostgresTableCreate): {
  settings: PostgresTableConnection;
  credentials: PostgresTableCredentials;
} {
  return { settings, credentials: { password } };
}

export function applyPostgresTablePatch(
  current: PostgresTableConnection,
  { password, ...rest }: PostgresTablePatch,
): { settings: PostgresTableConnection; credentials: PostgresTableCredentials | null } {
  return { settings: { ...current, ...rest }, credentials: password === undefined ? null : { password } };
}
