import { describe, expect, it } from 'vitest';
import {
  PostgresTableCreateInput,
  PostgresTablePatchInput,
  SqlIdentifier,
  applyPostgresTablePatch,
  postgresHostUrl,
  splitPostgresTableCreate,
} from '../../domain/postgres-table-config.js';
import { filtersProblem, movedCredentialsProblem, patchConnection, type ConnectionChange, type SourceConnection } from '../../domain/source-kinds.js';

describe('postgres table source settings', () => {
  const base = { host: 'db.example.com', database: 'app', user: 'reader', table: 'docs', password: 'pw' };

  it('splits the password off to be sealed, with the defaults filled', () => {
    const { settings, credentials } = splitPostgresTableCreate(PostgresTableCreateInput.parse(base));
    expect(settings).toEqual({
      host: 'db.example.com',
      port: 5432,
      database: 'app',
      user: 'reader',
      schema: 'public',
      table: 'docs',
      ssl: 'verify-full',
      statementTimeoutMs: 30_000,
    });
    expect(credentials).toEqual({ password: 'pw' });
  });

  it('a PATCH changes only what it names, and replaces the password only when it gives one', () => {
    const { settings } = splitPostgresTableCreate(PostgresTableCreateInput.parse(base));
    expect(applyPostgresTablePatch(settings, PostgresTablePatchInput.parse({ table: 'other' }))).toEqual({
      settings: { ...settings, table: 'other' },
      credentials: null,
    });
    expect(applyPostgresTablePatch(settings, PostgresTablePatchInput.parse({ password: 'new' })).credentials).toEqual({ password: 'new' });
    // A PATCH without a field leaves its default alone rather than resetting it.
    expect(applyPostgresTablePatch({ ...settings, schema: 'sales' }, PostgresTablePatchInput.parse({})).settings.schema).toBe('sales');
  });

  it('takes names Postgres would need quoted, and refuses any that could reach SQL as more than a name', () => {
    for (const ok of ['docs', 'Docs_2024', 'order lines', 'über', 'a$b', 'a-b']) expect(SqlIdentifier.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['', 'a.b', 'a"b', "a'b", 'a;b', '1abc', 'a\u0000b', 'x'.repeat(64), 'é'.repeat(32)])
      expect(SqlIdentifier.safeParse(bad).success, bad).toBe(false);
  });

  it('refuses a URL or a path for a host, and brackets IPv6 for the destination policy', () => {
    for (const bad of ['postgres://db', 'db/x', 'db:5432', 'a b']) expect(PostgresTableCreateInput.safeParse({ ...base, host: bad }).success, bad).toBe(false);
    expect(postgresHostUrl({ host: '::1', port: 5432 })).toBe('postgres://[::1]:5432');
    expect(postgresHostUrl({ host: '10.0.0.1', port: 6543 })).toBe('postgres://10.0.0.1:6543');
  });
});

describe('postgres source credentials', () => {
  it('a PATCH that moves the host or port must give the password again; other changes keep it', () => {
    const stored: SourceConnection = {
      postgres: {
        host: 'db.example.com',
        port: 5432,
        database: 'app',
        user: 'reader',
        schema: 'public',
        table: 'docs',
        ssl: 'verify-full',
        statementTimeoutMs: 30_000,
      },
    };
    const moved = (part: object) => movedCredentialsProblem(stored, patchConnection(stored, { postgres: part }) as ConnectionChange);
    expect(moved({ host: 'evil.example.com' })).toMatchObject({ field: 'postgres.password' });
    expect(moved({ port: 6543 })).toMatchObject({ field: 'postgres.password' });
    expect(moved({ host: 'evil.example.com', password: 'new-one' })).toBeNull();
    expect(moved({ table: 'other', columns: ['id'] })).toBeNull();
  });
});

describe('filters a postgres source cannot apply', () => {
  it('refuses date filters (rows carry no modification time) and lets the others through; other kinds keep them', () => {
    expect(filtersProblem('postgres', { modifiedAfter: '2026-01-01T00:00:00Z' })).toMatchObject({ field: 'fileFilters.modifiedAfter' });
    expect(filtersProblem('postgres', { modifiedBefore: '2026-01-01T00:00:00Z' })).toMatchObject({ field: 'fileFilters.modifiedBefore' });
    expect(filtersProblem('postgres', {})).toBeNull();
    expect(filtersProblem('s3', { modifiedAfter: '2026-01-01T00:00:00Z' })).toBeNull();
    expect(filtersProblem('sftp', { modifiedBefore: '2026-01-01T00:00:00Z' })).toBeNull();
  });
});
