import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * catalog/ is the one writer of the tables below. This reads every source
 * file (tests aside: they may seed what they need) and fails on a write to
 * one of them anywhere else, whichever way it is written: SQL text in a
 * template or string (insert into / update / delete from / merge into /
 * truncate, across line breaks, the table quoted or schema-qualified or not)
 * or drizzle's builder (`.insert(jobs)`, `.update(sourceObjects)`,
 * `.delete(fulltextDocuments)`). A comment that reads like such a write fails
 * too: reword it.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const TABLES = {
  source_objects: 'sourceObjects',
  jobs: 'jobs',
  object_pipeline_runs: 'objectPipelineRuns',
  fulltext_documents: 'fulltextDocuments',
  lake_purges: 'lakePurges',
};
const SKIP = new Set(['node_modules', 'dist', 'test', 'catalog', '.git', '.lakesync']);

const sqlWrite = new RegExp(
  String.raw`\b(insert\s+into|update|delete\s+from|merge\s+into|truncate(\s+table)?)\s+(only\s+)?("?public"?\.)?"?(${Object.keys(TABLES).join('|')})"?(?![\w.])`,
  'gi',
);
const drizzleWrite = new RegExp(String.raw`\.(insert|update|delete)\(\s*(${Object.values(TABLES).join('|')})\s*\)`, 'g');

function writesIn(text: string): string[] {
  return [...text.matchAll(sqlWrite), ...text.matchAll(drizzleWrite)].map((m) => m[0].replace(/\s+/g, ' '));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      const rel = relative(ROOT, path);
      if (SKIP.has(rel) || e.name.startsWith('.') || rel === join('db', 'migrations')) return [];
      return sourceFiles(path);
    }
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

describe('catalog/ is the only writer of the catalog tables', () => {
  it('finds writes written every way it checks for', () => {
    expect(writesIn('await tx`update   jobs set x = 1`')).toEqual(['update jobs']);
    expect(writesIn('sql`with up as (\n  insert into source_objects as so (id)')).toEqual(['insert into source_objects']);
    expect(writesIn('DELETE FROM "public"."fulltext_documents" where')).toEqual(['DELETE FROM "public"."fulltext_documents"']);
    expect(writesIn('await db.update(sourceObjects).set({})')).toEqual(['.update(sourceObjects)']);
    expect(writesIn('tx.delete( objectPipelineRuns )')).toEqual(['.delete( objectPipelineRuns )']);
    expect(writesIn('truncate lake_purges')).toEqual(['truncate lake_purges']);
    // Reads, and tables that only share a prefix, are not writes.
    expect(writesIn('select * from source_objects; update jobs_archive set; update sources set; db.select().from(jobs)')).toEqual([]);
  });

  it('finds the writes catalog/ holds, to every table', () => {
    const found = sourceFiles(join(ROOT, 'catalog'))
      .flatMap((f) => writesIn(readFileSync(f, 'utf8')))
      .join('\n')
      .toLowerCase();
    for (const [table, name] of Object.entries(TABLES)) expect(found.includes(table) || found.includes(name.toLowerCase()), table).toBe(true);
  });

  it('finds none anywhere else', () => {
    const files = sourceFiles(ROOT);
    expect(files.length).toBeGreaterThan(50);
    const outside = files.flatMap((f) => writesIn(readFileSync(f, 'utf8')).map((w) => `${relative(ROOT, f).split(sep).join('/')}: ${w}`));
    expect(outside).toEqual([]);
  });

  it('keeps object status literals inside catalog/ and db/', () => {
    const stray = sourceFiles(ROOT)
      .filter((f) => !relative(ROOT, f).startsWith(`db${sep}`))
      .flatMap((f) => (readFileSync(f, 'utf8').match(/'(ingested|dead|filtered)'/g) ?? []).map((m) => `${relative(ROOT, f)}: ${m}`));
    expect(stray).toEqual([]);
  });
});
