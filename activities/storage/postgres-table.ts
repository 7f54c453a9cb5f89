/**
 * Postgres's dialect of the table scan (table-source.ts), on postgres.js: a
 * small pool per source, every statement under the source's timeout in
 * read-only transactions, TLS as the settings say, and sockets opened under
 * the destination policy. Identifiers reach SQL only through the driver's
 * identifier quoting, after the catalog has confirmed each one.
 */
import { connect, isIP, type Socket } from 'node:net';
import postgres from 'postgres';
import { ApplicationFailure } from '@temporalio/activity';
import type { SourceRow } from '../../db/schema.js';
import { FAILURE } from '../../domain/failures.js';
import { normalizeHost, type EgressPolicy } from '../../domain/egress-policy.js';
import type { PostgresTableConnection, PostgresTableCredentials } from '../../domain/postgres-table-config.js';
import type { ActivityDeps } from '../deps.js';
import { EgressDeniedError, egressLookup } from '../net/egress.js';
import { KEY_SUFFIX, TableSourceError, TableSourceReader, type TableDialect, type TableRow } from './table-source.js';

/** SQLSTATEs as lakesync names them; those in PERMANENT no retry within a run can fix. */
const SQLSTATE: Record<string, string> = {
  '28P01': 'AuthenticationFailed',
  '28000': 'AuthorizationFailed',
  '3D000': 'DatabaseNotFound',
  '3F000': 'SchemaNotFound',
  '42P01': 'TableNotFound',
  '42703': 'ColumnNotFound',
  '42501': 'PermissionDenied',
  '57014': 'StatementTimeout',
};
const PERMANENT = new Set([
  'AuthenticationFailed',
  'AuthorizationFailed',
  'DatabaseNotFound',
  'SchemaNotFound',
  'TableNotFound',
  'ColumnNotFound',
  'PermissionDenied',
  'NoUniqueKey',
  'UnsupportedEncoding',
  // A certificate that does not verify is refused for good, never retried until it happens to pass.
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
export const postgresTablePermanent = (err: unknown): boolean => PERMANENT.has((err as { code?: string } | null)?.code ?? '');

/**
 * A server's error as a TableSourceError (its message names users and tables,
 * never a password). The driver's own connection errors (closed, timed out:
 * what any server that is not Postgres causes) are marked as foreign answers,
 * which strict egress mode reports as unreachable rather than describe.
 */
function normalized(err: unknown): unknown {
  if (err instanceof postgres.PostgresError) return new TableSourceError(err.message, SQLSTATE[err.code] ?? `SQLSTATE_${err.code}`);
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('CONNECT')) return Object.assign(err, { foreignAnswer: true });
  return err;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** Connects under the policy: IP literals checked here, names on every address they resolve to. */
function egressSocket(policy: EgressPolicy, rawHost: string, port: number): () => Promise<Socket> {
  return () =>
    new Promise((resolve, reject) => {
      const host = normalizeHost(rawHost);
      if (isIP(host) !== 0 && !policy.allows(host, host)) return reject(new EgressDeniedError(host, [host]));
      const socket = connect({ host, port, lookup: egressLookup(policy) });
      const timer = setTimeout(
        () => socket.destroy(Object.assign(new Error(`connecting to the source database timed out`), { code: 'CONNECT_TIMEOUT' })),
        CONNECT_TIMEOUT_MS,
      );
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // postgres.js names the TLS server after socket.host (verify-full checks the certificate against it).
        resolve(Object.assign(socket, { host }));
      });
    });
}

/** The table as the catalog confirms it: the key column, the version column and the selected columns all exist. */
interface Resolved {
  key: string;
}

export class PostgresTableDialect implements TableDialect {
  private resolved: Promise<Resolved> | null = null;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly settings: PostgresTableConnection,
  ) {}

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw normalized(err);
    }
  }

  /** Confirms the names against the catalog once per reader; a failure is asked again next time. */
  private resolve(): Promise<Resolved> {
    this.resolved ??= this.run(() => this.lookUp()).catch((err: unknown) => {
      this.resolved = null;
      throw err;
    });
    return this.resolved;
  }

  private async lookUp(): Promise<Resolved> {
    const { schema, table, keyColumn, versionColumn, columns } = this.settings;
    // Keys are compared in UTF-8 byte order everywhere else: under another encoding "C" order differs, and a resumed scan could skip keys.
    const [enc] = await this.sql<{ encoding: string }[]>`select current_setting('server_encoding') as encoding`;
    if (enc?.encoding !== 'UTF8')
      throw new TableSourceError(`the database's encoding is ${enc?.encoding ?? 'unknown'}; only UTF8 databases are read`, 'UnsupportedEncoding');
    const rows = await this.sql<{ name: string; pk: boolean; unique: boolean }[]>`
      select a.attname as name,
        exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary and i.indnkeyatts = 1 and i.indkey[0] = a.attnum) as pk,
        exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisunique and i.indpred is null and i.indnkeyatts = 1 and i.indkey[0] = a.attnum) as unique
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid
      where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`;
    if (rows.length === 0) throw new TableSourceError(`relation "${schema}"."${table}" does not exist`, 'TableNotFound');
    const names = new Set(rows.map((r) => r.name));
    for (const c of [versionColumn, ...(columns ?? [])])
      if (c !== undefined && !names.has(c)) throw new TableSourceError(`column "${c}" of "${schema}"."${table}" does not exist`, 'ColumnNotFound');
    if (keyColumn !== undefined) {
      const row = rows.find((r) => r.name === keyColumn);
      if (!row) throw new TableSourceError(`column "${keyColumn}" of "${schema}"."${table}" does not exist`, 'ColumnNotFound');
      if (!row.unique) throw new TableSourceError(`keyColumn "${keyColumn}" is not the primary key or a unique column of its own`, 'NoUniqueKey');
      return { key: keyColumn };
    }
    const pk = rows.find((r) => r.pk);
    if (!pk) throw new TableSourceError(`"${schema}"."${table}" has no one-column primary key: set keyColumn to a unique column`, 'NoUniqueKey');
    return { key: pk.name };
  }

  private table() {
    return this.sql`${this.sql(this.settings.schema)}.${this.sql(this.settings.table)}`;
  }

  /** The object key (`<key>` + KEY_SUFFIX): byte order ("C") is the order the catalog compares keys in. */
  private keyExpr(key: string) {
    return this.sql`((t.${this.sql(key)})::text || '.json') collate "C"`;
  }

  /** The row's object: the selected columns (or all) as a JSON object. */
  private docExpr() {
    const { columns } = this.settings;
    if (columns === undefined) return this.sql`to_jsonb(t)`;
    return this.sql`(select jsonb_object_agg(e.key, e.value) from jsonb_each(to_jsonb(t)) e
      where e.key in (select jsonb_array_elements_text(${JSON.stringify(columns)}::text::jsonb)))`;
  }

  async page(afterKey: string | null, limit: number): Promise<TableRow[]> {
    const { key } = await this.resolve();
    const k = this.keyExpr(key);
    const version = this.settings.versionColumn;
    return this.run(async () => {
      const rows = await this.sql<{ key: string; etag: string; size: number }[]>`
        select p.key, ${version === undefined ? this.sql`md5(p.bytes)` : this.sql`coalesce(p.version, 'null')`} as etag, octet_length(p.bytes) as size
        from (
          select ${k} as key, convert_to((${this.docExpr()})::text, 'UTF8') as bytes,
            ${version === undefined ? this.sql`null::text` : this.sql`(t.${this.sql(version)})::text`} as version
          from ${this.table()} as t
          where ${k} is not null and (${afterKey}::text is null or ${k} > ${afterKey}::text)
          order by ${k}
          limit ${limit}
        ) p
        order by p.key`;
      return rows.map((r) => ({ key: r.key, etag: r.etag, size: Number(r.size) }));
    });
  }

  async content(objectKey: string): Promise<Buffer | null> {
    if (!objectKey.endsWith(KEY_SUFFIX)) return null;
    const { key } = await this.resolve();
    const value = objectKey.slice(0, -KEY_SUFFIX.length);
    return this.run(async () => {
      // The key's text read back into the column's own type, so the primary key's index finds the row.
      const [row] = await this.sql<{ doc: string }[]>`
        select (${this.docExpr()})::text as doc from ${this.table()} as t
        where t.${this.sql(key)} = (jsonb_populate_record(null::${this.table()}, jsonb_build_object(${key}::text, ${value}::text))).${this.sql(key)}
          and ${this.keyExpr(key)} = ${objectKey}::text`;
      return row ? Buffer.from(row.doc, 'utf8') : null;
    });
  }

  contentHash(etag: string): string | null {
    return this.settings.versionColumn === undefined ? `md5:${etag}` : null;
  }
}

/** Connections per source: enough for a batch's parallel reads, few enough to be a polite client. */
const POOL_SIZE = 4;

function pool(deps: ActivityDeps, s: PostgresTableConnection, creds: PostgresTableCredentials): postgres.Sql {
  // `socket` (a connected socket per connection) is a postgres.js option its types do not list.
  const options: postgres.Options<Record<string, never>> & { socket: () => Promise<Socket> } = {
    host: s.host,
    port: s.port,
    database: s.database,
    username: s.user,
    password: creds.password,
    ssl: s.ssl === 'disable' ? false : s.ssl,
    socket: egressSocket(deps.egress, s.host, s.port),
    max: POOL_SIZE,
    idle_timeout: 30,
    max_lifetime: 30 * 60,
    connect_timeout: CONNECT_TIMEOUT_MS / 1000,
    // Types are never read back but as text and numbers: no catalog round trip per connection.
    fetch_types: false,
    onnotice: () => undefined,
    connection: {
      application_name: 'lakesync',
      statement_timeout: s.statementTimeoutMs,
      default_transaction_read_only: 'on',
    } as Record<string, string | number>,
  };
  return postgres(options);
}

// Readers keep their pool between activities of the same source, until its row changes.
const readers = new WeakMap<ActivityDeps, Map<string, { version: number; reader: TableSourceReader; sql: postgres.Sql }>>();

/** The reader of a postgres table source; its password is unsealed here and stays in this worker. */
export function openPostgresTableReader(deps: ActivityDeps, source: SourceRow, settings: PostgresTableConnection): TableSourceReader {
  let cache = readers.get(deps);
  if (!cache) readers.set(deps, (cache = new Map()));
  const version = source.updatedAt.getTime();
  const hit = cache.get(source.id);
  if (hit && hit.version === version) return hit.reader;
  const creds = source.sealedCredentials ? deps.secrets.open<PostgresTableCredentials>(source.sealedCredentials) : null;
  if (!creds) throw ApplicationFailure.create({ type: FAILURE.badSourceConfig, message: 'source has no credentials', nonRetryable: true });
  // The old settings' pool closes once its queries in flight are done.
  if (hit) void hit.sql.end({ timeout: 30 });
  const sql = pool(deps, settings, creds);
  const reader = new TableSourceReader(new PostgresTableDialect(sql, settings));
  cache.set(source.id, { version, reader, sql });
  return reader;
}
