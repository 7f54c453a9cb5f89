/**
 * Postgres table sources end to end, against a database of their own in the
 * suite's embedded Postgres: a few hundred rows synced as JSON objects byte
 * for byte with exact counters, deltas by a version column and by a row hash,
 * deleted rows swept, a filter, refused input, a wrong password suspending the
 * source, and a worker killed mid-scan resuming from the last key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, type TestLakesync } from '../support/lakesync.js';
import { sha256 } from '../support/objects.js';
import { cliAgainst } from '../support/cli-run.js';
import { sourceKindApi } from '../support/source-kind.js';
import { seededRandom } from '../support/seed.js';
import { expectScanResumesAfterKill } from '../support/scan-crash.js';
import { activityReport, historyChain } from '../support/history.js';
import { createTableDb, type TableDb } from '../support/table-db.js';
import { startWorkerProcess, type WorkerProcess } from '../../infra/worker-process.js';

describe('Postgres table sources', () => {
  let ls: TestLakesync;
  let db: TableDb;
  let sql: postgres.Sql;
  let worker: WorkerProcess | undefined;
  const random = seededRandom('postgres-table-source.test.ts');

  const { ownBucket, lakeTree, createSource, discover } = sourceKindApi(() => ls, 'postgres');
  const connection = (table: string, extra: Record<string, unknown> = {}) => ({
    host: db.host,
    port: db.port,
    database: db.database,
    user: db.user,
    password: db.password,
    table,
    ssl: 'disable',
    ...extra,
  });
  /** What the lake must hold: each row's selected columns as Postgres writes the JSON, under `<path>.json`. */
  const expected = async (table: string) => {
    const rows = await db.sql<{ key: string; doc: string }[]>`
      select path || '.json' as key, jsonb_build_object('path', path, 'title', title, 'body', body, 'n', n, 'version', version)::text as doc
      from ${db.sql(table)}`;
    return new Map(rows.map((r) => [r.key, Buffer.from(r.doc, 'utf8')]));
  };
  const digests = (files: Map<string, Buffer>) => new Map([...files].map(([k, v]) => [k, sha256(v)]));
  const makeTable = async (table: string, rows: number) => {
    await db.sql`create table ${db.sql(table)} (path text primary key, title text, body jsonb, n int, version int not null default 1, secret_col text)`;
    await db.sql`
      insert into ${db.sql(table)} (path, title, body, n, secret_col)
      select 'dir' || (i % 5) || '/sub' || (i % 3) || '/doc-' || lpad(i::text, 4, '0'), 'title ' || i, jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)), i, 'hidden'
      from generate_series(1, ${rows - 1}) i`;
    await db.sql`insert into ${db.sql(table)} (path, title, body, n, secret_col) values ('with space/ünïcødé 名前 doc', 'ünï "quoted"', '{"x": null}', -1, 'hidden')`;
    await db.grant(table);
  };

  beforeAll(async () => {
    [ls, db] = await Promise.all([startTestLakesync({ lake: 'filesystem', worker: 'separate' }), createTableDb('pgsrc')]);
    worker = await startWorkerProcess(ls.workerEnv);
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await sql?.end();
    await ls?.stop();
    await db?.drop();
  });

  it('syncs a few hundred rows as JSON objects byte for byte with exact counters, then only what changed, and sweeps deleted rows', async () => {
    await makeTable('docs', 300);
    const bucket = await ownBucket();
    const columns = ['path', 'title', 'body', 'n', 'version'];
    const { sourceId, postgres: shown } = await createSource(bucket, connection('docs', { versionColumn: 'version', columns }));
    expect(shown).toEqual({
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.user,
      schema: 'public',
      table: 'docs',
      versionColumn: 'version',
      columns,
      ssl: 'disable',
      statementTimeoutMs: 30_000,
      credentialsSet: true,
    });

    let files = await expected('docs');
    expect(files.size).toBe(300);
    expect(JSON.parse(files.get('with space/ünïcødé 名前 doc.json')!.toString())).toEqual({
      path: 'with space/ünïcødé 名前 doc',
      title: 'ünï "quoted"',
      body: { x: null },
      n: -1,
      version: 1,
    });
    const bytes = [...files.values()].reduce((n, b) => n + b.length, 0);
    const first = await discover(bucket, sourceId);
    expect(first.job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 300,
      objectsDiscovered: 300,
      objectsNew: 300,
      objectsProcessed: 300,
      objectsFailed: 0,
      bytesTransferred: bytes,
    });
    expect(await lakeTree(bucket)).toEqual(digests(files));
    // A column left out of `columns` never reaches the lake.
    expect([...files.values()].some((b) => b.includes('hidden'))).toBe(false);

    expect((await discover(bucket, sourceId)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 300, objectsDiscovered: 0 });

    // Change 3 (their version moves on), add 2: exactly 5 go out.
    const changed =
      await db.sql`update docs set title = title || ' (edited)', version = version + 1 where path like 'dir2/%' and n in (select n from docs where path like 'dir2/%' order by n limit 3) returning path`;
    expect(changed).toHaveLength(3);
    await db.sql`insert into docs (path, title, body, n) values ('new/one', 'one', '[]', 1001), ('new/two', 'two', '[]', 1002)`;
    const delta = await discover(bucket, sourceId);
    expect(delta.job).toMatchObject({ objectsListed: 302, objectsDiscovered: 5, objectsNew: 2, objectsChanged: 3, objectsProcessed: 5, objectsFailed: 0 });
    files = await expected('docs');
    expect(await lakeTree(bucket)).toEqual(digests(files));

    // Deleted rows are swept from the lake.
    const gone = await db.sql`delete from docs where path in (select path from docs where path like 'dir4/%' order by path limit 4) returning path`;
    expect(gone).toHaveLength(4);
    const swept = await discover(bucket, sourceId);
    expect(swept.job).toMatchObject({ objectsListed: 298, objectsDiscovered: 0, objectsDeleted: 4, objectsRemoved: 4 });
    files = await expected('docs');
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });

  it('without a version column finds changes by a hash of the row, and leaves out what a filter names', async () => {
    await makeTable('hashed', 60);
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, connection('hashed', { columns: ['path', 'title', 'body', 'n', 'version'] }), {
      fileFilters: { excludePatterns: ['dir1/**'] },
    });
    const kept = () => expected('hashed').then((all) => new Map([...all].filter(([k]) => !k.startsWith('dir1/'))));
    let files = await kept();
    expect(files.size).toBeLessThan(60 - 5);
    expect((await discover(bucket, sourceId)).job).toMatchObject({
      status: 'JOB_STATUS_SUCCEEDED',
      objectsListed: 60,
      objectsDiscovered: files.size,
      objectsProcessed: files.size,
    });
    expect(await lakeTree(bucket)).toEqual(digests(files));
    // Content changes without a version: the hash sees them; a change to an unselected column is no change.
    await db.sql`update hashed set title = 'retitled' where path = 'dir0/sub1/doc-0010'`;
    await db.sql`update hashed set secret_col = 'still hidden' where path = 'dir0/sub2/doc-0005'`;
    expect((await discover(bucket, sourceId)).job).toMatchObject({ objectsListed: 60, objectsDiscovered: 1, objectsChanged: 1, objectsProcessed: 1 });
    files = await kept();
    expect(await lakeTree(bucket)).toEqual(digests(files));
  });

  it('refuses bad settings with a 400 naming the field, and creates nothing', async () => {
    const bucket = await ownBucket();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...connection('docs'), password: undefined }, 'postgres.password'],
      [connection('docs"; drop table docs; --'), 'postgres.table'],
      [connection('public.docs'), 'postgres.table'],
      [connection('docs', { columns: ['path', 'ti\u0000tle'] }), 'postgres.columns.1'],
      [connection('docs', { host: 'db.example.com/x' }), 'postgres.host'],
      // The destination policy refuses a cloud metadata address at the edge.
      [connection('docs', { host: '169.254.169.254' }), 'postgres.host'],
    ];
    for (const [pg, field] of cases) {
      const res = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'bad', kind: 'postgres', postgres: pg });
      expect(res.status, field).toBe(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(JSON.stringify(res.body)).not.toContain(db.password);
    }
    expect((await call(ls.url, 'GET', `/${bucket}/sources`)).body.sources).toEqual([]);
  });

  it('suspends a source whose password is wrong, with a clear lastError that holds no secret', async () => {
    const bucket = await ownBucket();
    const wrong = `wrong-${db.password}`;
    const { sourceId } = await createSource(bucket, { ...connection('docs'), password: wrong }, { suspendAfterFailures: 1 });
    const { job } = await discover(bucket, sourceId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_FAILED', objectsProcessed: 0 });
    const source = await waitFor('the source to be suspended', async () => {
      const s = (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
      return s.status === 'SOURCE_STATUS_SUSPENDED' && s;
    });
    expect(source.lastError).toBe(`AuthenticationFailed: password authentication failed for user "${db.user}"`);
    for (const secret of [wrong, db.password]) expect(JSON.stringify([source, job])).not.toContain(secret);
    expect(job.error).toBe(source.lastError);
  });

  it('is created from a YAML file, synced and shown by the CLI, which never prints the password', async () => {
    await db.sql`create table cli_docs (id int primary key, title text)`;
    await db.sql`insert into cli_docs values (7, 'seven')`;
    await db.grant('cli_docs');
    const bucket = await ownBucket();
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-pg-cli-'));
    const file = join(dir, 'postgres.yaml');
    const yaml = [
      'name: from-yaml',
      'kind: postgres',
      'postgres:',
      `  host: ${db.host}`,
      `  port: ${db.port}`,
      `  database: ${db.database}`,
      `  user: ${db.user}`,
    ];
    yaml.push(`  password: "${db.password}"`, '  table: cli_docs', '  ssl: disable', 'syncIntervalSeconds: 3600');
    await writeFile(file, yaml.join('\n'));
    const cli = await cliAgainst(ls, db.password);
    const created = await cli('sources', 'create', bucket, '--file', file, '--json');
    expect(created.code, created.out).toBe(0);
    const sourceId = (JSON.parse(created.out) as { sourceId: string }).sourceId;
    const synced = await cli('sync', bucket, sourceId, '--quiet');
    expect(synced.code, synced.out).toBe(0);
    expect(synced.out).toMatch(/processed:\s+1\b/);
    const shown = await cli('sources', 'get', bucket, sourceId);
    expect(shown.out).toContain(`postgres://${db.user}@${db.host}:${db.port}/${db.database} public.cli_docs`);
    expect(shown.out).toMatch(/credentials:\s+set/);
    expect(await lakeTree(bucket)).toEqual(new Map([['7.json', sha256(Buffer.from('{"id": 7, "title": "seven"}'))]]));
    await rm(dir, { recursive: true, force: true });
  });

  it('retries a scan the server cancels after statementTimeoutMs, and syncs once the table is free', async () => {
    await db.sql`create table locked (id int primary key, title text)`;
    await db.sql`insert into locked select i, 'row ' || i from generate_series(1, 3) i`;
    await db.grant('locked');
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, connection('locked', { statementTimeoutMs: 1000 }));
    // Another session holds the table: the source's reads wait, and the server cancels them.
    const holder = await db.sql.reserve();
    await holder`begin`;
    await holder`lock table locked in access exclusive mode`;
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    const jobId = started.body.jobId as string;
    await waitFor('a scan cancelled by the statement timeout', async () => worker!.output().includes('canceling statement due to statement timeout'), 60_000);
    await holder`rollback`;
    holder.release();
    const { job } = await waitForJob(ls.url, bucket, sourceId, jobId);
    expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsListed: 3, objectsProcessed: 3 });
    const report = activityReport(await historyChain(ls.runtime.temporal, job.workflowId, job.runId));
    expect(report.retries.some((r) => r.includes('statement timeout'))).toBe(true);
  });

  it('resumes a scan killed mid-way from the last key it committed, not from the first row', async () => {
    await db.sql`create table crash (path text primary key, title text, body jsonb, n int, version int not null default 1, secret_col text)`;
    await db.sql`insert into crash (path, title, n) select 'p' || lpad((i % 40)::text, 2, '0') || '/row-' || lpad(i::text, 5, '0'), 'row ' || i, i from generate_series(0, 1499) i`;
    await db.grant('crash');
    // Pages of 10 rows: 150 keyset queries.
    await worker?.kill('SIGTERM');
    worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '10' });
    const bucket = await ownBucket();
    const { sourceId } = await createSource(bucket, connection('crash', { columns: ['path', 'title', 'body', 'n', 'version'] }), { batchSize: 200 });
    await expectScanResumesAfterKill({
      url: ls.url,
      bucket,
      sourceId,
      sql,
      random,
      objects: 1500,
      pageSize: 10,
      killWorker: async () => void (await worker!.kill('SIGKILL')),
      startWorker: async () => void (worker = await startWorkerProcess({ ...ls.workerEnv, WORKER_LIST_PAGE_SIZE: '10' })),
    });
    expect(await lakeTree(bucket)).toEqual(digests(await expected('crash')));
  });
});
