import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { JOB_STATUSES, OBJECT_STATUSES, RUN_STATUSES, SOURCE_STATUSES } from '../../domain/statuses.js';

/**
 * catalog/ is the one writer of the catalog tables. This reads every source
 * file (tests aside: they may seed what they need; migrations define the
 * tables) and, outside catalog/, allows only writes it can see are to another
 * table:
 * - drizzle's builder (`.insert(X)`, `.update(X)`, `.delete(X)` on a `db`/`tx`,
 *   chained into `.set`/`.values`/`.where`/…, or naming a schema table) must
 *   name one of the non-catalog tables of db/schema.ts by its plain
 *   identifier: not an alias, a cast or `schema.X`;
 * - SQL text (insert into / update / delete from / merge into / truncate /
 *   copy … from, across line breaks and comments, the table quoted or
 *   schema-qualified or not) must name a non-catalog table literally: an
 *   interpolated or concatenated table name fails, as does a catalog table
 *   mentioned so anywhere, a comment included (reword it).
 * And status values (domain/statuses.ts) are named through its constants:
 * a bare literal outside catalog/, db/ and domain/statuses.ts fails.
 */
const ROOT = join(import.meta.dirname, '..', '..');
/** SQL name → drizzle identifier of the tables only catalog/ writes. */
const CATALOG_TABLES: Record<string, string> = {
  source_objects: 'sourceObjects',
  jobs: 'jobs',
  object_pipeline_runs: 'objectPipelineRuns',
  fulltext_documents: 'fulltextDocuments',
  embedding_chunks: 'embeddingChunks',
  lake_purges: 'lakePurges',
  job_batches: 'jobBatches',
};
const SKIP = new Set(['node_modules', 'dist', 'test', join('db', 'migrations')]);
const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs|sql)$/;

/** Every table db/schema.ts declares, SQL name → drizzle identifier. */
const SCHEMA_TABLES: Record<string, string> = Object.fromEntries(
  [...readFileSync(join(ROOT, 'db', 'schema.ts'), 'utf8').matchAll(/export const (\w+) = pgTable\(\s*'(\w+)'/g)].map((m) => [m[2]!, m[1]!]),
);
const OTHER_TABLES = Object.keys(SCHEMA_TABLES).filter((t) => !(t in CATALOG_TABLES));
const OTHER_IDENTIFIERS = new Set(OTHER_TABLES.map((t) => SCHEMA_TABLES[t]!));

// ---- drizzle's builder ----------------------------------------------------

const DRIZZLE_CHAIN = new Set(['set', 'values', 'where', 'returning', 'onConflictDoNothing', 'onConflictDoUpdate', 'execute', 'using']);
const DB_RECEIVER = /^(db|tx|trx|database)$/i;
const stripStrings = (s: string) => s.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`/g, '');

/** The text inside the parenthesis opening at `open`, or null when it never closes. */
function argumentAt(text: string, open: number): { arg: string; end: number } | null {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return { arg: text.slice(open + 1, i), end: i + 1 };
  }
  return null;
}

function drizzleWritesIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\.(insert|update|delete)\s*\(/g)) {
    const call = argumentAt(text, m.index + m[0].length - 1);
    if (!call) continue;
    const receiver = /([\w$]+)\s*$/.exec(text.slice(Math.max(0, m.index - 200), m.index))?.[1] ?? '';
    const next = /^\s*\.\s*(\w+)/.exec(text.slice(call.end))?.[1] ?? '';
    const arg = call.arg.trim();
    const namesTable = /\bschema\s*\./.test(arg) || Object.values(SCHEMA_TABLES).some((id) => new RegExp(String.raw`\b${id}\b`).test(stripStrings(arg)));
    const isDrizzle = DB_RECEIVER.test(receiver) || DRIZZLE_CHAIN.has(next) || namesTable;
    if (isDrizzle && !OTHER_IDENTIFIERS.has(arg)) found.push(`.${m[1]}(${arg.replace(/\s+/g, ' ')})`);
  }
  return found;
}

// ---- SQL text -------------------------------------------------------------

/** Whitespace and SQL comments between a keyword and its table. */
const GAP = String.raw`(?:\s|/\*[\s\S]*?\*/|--[^\n]*\n)+`;
/** A table named literally: optionally quoted, optionally schema-qualified. */
const NAME = String.raw`(?:"?\w+"?\.)?"?(\w+)"?`;
const sqlWrite = new RegExp(
  String.raw`\b(insert${GAP}into|update|delete${GAP}from|merge${GAP}into|truncate(?:${GAP}table)?|copy)${GAP}(?:only${GAP})?(?:(\$\{|['"\x60](?=\s*(?:\+|,|\)|$)))|${NAME}(\s*\([^)]*\))?(${GAP}\w+)?)`,
  'gim',
);

function sqlWritesIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(sqlWrite)) {
    const [whole, keyword, computed, table, columns, after] = m;
    const verb = keyword!.toLowerCase().split(/\s+/)[0]!;
    const shown = whole.replace(/\s+/g, ' ').trim();
    if (computed) {
      found.push(shown); // `update ${t}` or 'update ' + t: a table no one can check
      continue;
    }
    const name = table!.toLowerCase();
    if (name in CATALOG_TABLES) {
      found.push(shown);
      continue;
    }
    if (OTHER_TABLES.includes(name)) continue;
    // Not a table of ours: a write only when it reads like SQL, not English ("update the counters").
    const word = after?.trim().toLowerCase() ?? '';
    const sqlShaped =
      (verb === 'update' && word === 'set') ||
      (verb === 'delete' && (word === 'where' || word === 'using' || word === 'returning')) ||
      (verb === 'copy' && word === 'from') ||
      ((verb === 'insert' || verb === 'merge') && (columns !== undefined || word === 'select' || word === 'values' || word === 'as' || word === 'using'));
    if (sqlShaped) found.push(shown);
  }
  return found;
}

const writesIn = (text: string) => [...sqlWritesIn(text), ...drizzleWritesIn(text)];

// ---- status literals ------------------------------------------------------

const STATUS_VALUES = new Set<string>([...OBJECT_STATUSES, ...JOB_STATUSES, ...RUN_STATUSES, ...SOURCE_STATUSES]);
const quotedStatus = new RegExp(String.raw`'(${[...STATUS_VALUES].join('|')})'`, 'g');
/** Words that are labels, not statuses, where they stand: file → value → how many times. */
const LABELS: Record<string, Record<string, number>> = {
  // Table rows and headers of counts (objectsIndexed, objectsFailed, …).
  'cli/views.ts': { indexed: 2, failed: 3, skipped: 1 },
  // A metric label value.
  'metrics/registry.ts': { indexed: 1 },
};

/** Status values written as string literals, or quoted inside SQL text. */
function statusLiteralsIn(text: string, fileName: string): string[] {
  if (fileName.endsWith('.sql')) return [...text.matchAll(quotedStatus)].map((m) => m[0]);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      if (STATUS_VALUES.has(node.text)) found.push(node.text);
      else found.push(...[...node.text.matchAll(quotedStatus)].map((m) => m[0]));
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, /\.[cm]?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS));
  return found;
}

// ---- the files ------------------------------------------------------------

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return SKIP.has(relative(ROOT, path)) || e.name.startsWith('.') ? [] : sourceFiles(path);
    return SOURCE_FILE.test(e.name) ? [path] : [];
  });
}
const rel = (f: string) => relative(ROOT, f).split(sep).join('/');
const outsideCatalog = () => sourceFiles(ROOT).filter((f) => !rel(f).startsWith('catalog/'));

describe('catalog/ is the only writer of the catalog tables', () => {
  it('reads the tables off db/schema.ts', () => {
    for (const [table, id] of Object.entries(CATALOG_TABLES)) expect(SCHEMA_TABLES[table], table).toBe(id);
    expect(OTHER_TABLES).toEqual(expect.arrayContaining(['buckets', 'sources', 'pipelines', 'rules', 'upload_syncs', 'upload_files']));
  });

  it('finds writes written every way it checks for', () => {
    expect(writesIn('await tx`update   jobs set x = 1`')).toEqual(['update jobs set']);
    expect(writesIn('sql`with up as (\n  insert into source_objects as so (id)')).toEqual(['insert into source_objects as']);
    expect(writesIn('DELETE FROM "public"."fulltext_documents" where')).toEqual(['DELETE FROM "public"."fulltext_documents" where']);
    expect(writesIn('truncate lake_purges')).toEqual(['truncate lake_purges']);
    expect(writesIn('update /*c*/ jobs set x = 1')).toEqual(['update /*c*/ jobs set']);
    expect(writesIn('update -- the jobs\n jobs set x = 1')).toHaveLength(1);
    expect(writesIn('copy source_objects (id, key) from stdin')).toEqual(['copy source_objects (id, key) from']);
    expect(writesIn('merge into object_pipeline_runs r using x')).toHaveLength(1);
    // A table no one can check: interpolated, or concatenated.
    expect(writesIn("sql`delete from ${sql('jobs')}`")).toEqual(['delete from ${']);
    expect(writesIn('await tx`update ${table} set x = 1`')).toEqual(['update ${']);
    expect(writesIn("sql.unsafe('update ' + t)")).toEqual(["update '"]);
    expect(writesIn('sql.unsafe("insert into " + t + " values (1)")')).toEqual(['insert into "']);
    // A table that is not ours, written as SQL.
    expect(writesIn('update jobs_archive set x = 1')).toEqual(['update jobs_archive set']);
    expect(writesIn('insert into scratch (id) values (1)')).toEqual(['insert into scratch (id) values']);
    expect(writesIn('delete from scratch where true')).toEqual(['delete from scratch where']);
    // drizzle: only a non-catalog table by its plain identifier.
    expect(writesIn('await db.update(sourceObjects).set({})')).toEqual(['.update(sourceObjects)']);
    expect(writesIn('tx.delete( objectPipelineRuns )')).toEqual(['.delete(objectPipelineRuns)']);
    expect(writesIn('await db.insert(schema.jobs).values({})')).toEqual(['.insert(schema.jobs)']);
    expect(writesIn('await tx.update(jobsAlias).set({})')).toEqual(['.update(jobsAlias)']);
    expect(writesIn('await deps.db.update(sourceObjects as never).set({})')).toEqual(['.update(sourceObjects as never)']);
    expect(writesIn('await store\n  .insert(t)\n  .values({})')).toEqual(['.insert(t)']);
    // Writes to other tables, reads, English, and calls that are not drizzle's pass.
    expect(
      writesIn(
        [
          'update sources set paused = true; insert into "upload_files" (id) values (1); delete from public.rules where',
          'await deps.db.update(sources).set({}); tx.delete(buckets).where(); db.insert(uploadSyncs).values({})',
          'select * from source_objects; db.select().from(jobs); // update the counters, then copy it to the lake',
          'hash.update(chunk); inFlight.delete(tracked); creating.delete(run.jobId); client.delete(`/admin/buckets/${seg(name)}`)',
        ].join('\n'),
      ),
    ).toEqual([]);
  });

  it('finds the writes catalog/ holds, to every table', () => {
    const found = sourceFiles(join(ROOT, 'catalog'))
      .flatMap((f) => writesIn(readFileSync(f, 'utf8')))
      .join('\n')
      .toLowerCase();
    for (const [table, name] of Object.entries(CATALOG_TABLES)) expect(found.includes(table) || found.includes(name.toLowerCase()), table).toBe(true);
  });

  it('finds none anywhere else', () => {
    const files = outsideCatalog();
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.endsWith('.mjs'))).toBe(true);
    const outside = files.flatMap((f) => writesIn(readFileSync(f, 'utf8')).map((w) => `${rel(f)}: ${w}`));
    expect(outside).toEqual([]);
  });
});

describe('status values are named through domain/statuses.ts', () => {
  it('finds status literals written every way it checks for', () => {
    expect(statusLiteralsIn('if (s === \'ingested\') x = "JOB_STATUS_RUNNING"', 'a.ts')).toEqual(['ingested', 'JOB_STATUS_RUNNING']);
    expect(statusLiteralsIn("const t: 'indexed' | 'skipped' = `processing`", 'a.ts')).toEqual(['indexed', 'skipped', 'processing']);
    expect(statusLiteralsIn("sql`select 1 where status = 'dead' and ${x} = 'SOURCE_STATUS_PAUSED'`", 'a.ts')).toEqual(["'dead'", "'SOURCE_STATUS_PAUSED'"]);
    expect(statusLiteralsIn("z.enum(['pending', 'deleted', 'filtered', 'failed'])", 'a.mjs')).toEqual(['pending', 'deleted', 'filtered', 'failed']);
    expect(statusLiteralsIn("update sources set status = 'SOURCE_STATUS_ACTIVE'", 'a.sql')).toEqual(["'SOURCE_STATUS_ACTIVE'"]);
    // Comments, other words, and the constants pass.
    expect(statusLiteralsIn("// objects stay `pending`\nconst a = 'Failed', b = 'pending_job_id', c = RUN_STATUS.failed", 'a.ts')).toEqual([]);
  });

  it('finds none outside catalog/, db/ and domain/statuses.ts, labels aside', () => {
    const counts: Record<string, Record<string, number>> = {};
    for (const f of outsideCatalog().filter((f) => !rel(f).startsWith('db/') && rel(f) !== 'domain/statuses.ts'))
      for (const s of statusLiteralsIn(readFileSync(f, 'utf8'), f)) {
        const inFile = (counts[rel(f)] ??= {});
        inFile[s] = (inFile[s] ?? 0) + 1;
      }
    expect(counts).toEqual(LABELS);
  });
});
