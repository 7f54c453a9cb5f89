/**
 * The installed Postgres driver carries the guard infra/patch-postgres-driver.mjs
 * applies at install: without it, a Postgres restart can crash the process
 * with an uncaught TypeError (test/e2e/outage-postgres.test.ts meets it now
 * and then). A driver release the script does not know fails here, so the
 * script is updated, or dropped once the release fixes the bug.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the Postgres driver', () => {
  it('guards nextWrite in each of its builds (ESM, CommonJS, Workers)', () => {
    const root = fileURLToPath(new URL('../../node_modules/postgres', import.meta.url));
    for (const build of ['src', 'cjs/src', 'cf/src']) {
      const text = readFileSync(join(root, build, 'connection.js'), 'utf8');
      expect(text, build).toContain('/* lakesync: guarded nextWrite */');
      // The two teardowns forget a queued write, so a reconnected connection flushes again.
      expect(text.split('    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n').length, build).toBe(3);
    }
  });
});
