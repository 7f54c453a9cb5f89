// Run by `npm install` / `npm ci` (postinstall). postgres.js 3.4.9, the latest release, can
// throw from a setImmediate when Postgres closes a connection that has a small write queued:
// `nextWrite` calls `socket.write` after `closed()` has set the socket to null, and the
// TypeError is uncaught, so a Postgres restart can take the API or a worker down
// (upstream porsager/postgres#1154 and #1208, fixes proposed in #1168, #1176 and #1209).
// This applies the proposed guard: the queued write settles its queries with
// CONNECTION_CLOSED (which the pool and our retries handle), and teardown forgets the
// queued write so a reconnected connection flushes again. Idempotent; when the driver's
// text is not the one patched here (a new release), it changes nothing and says so, and
// test/unit/postgres-driver-patch.test.ts fails until this script is updated or removed.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MARK = '/* lakesync: guarded nextWrite */';
const root = join(process.cwd(), 'node_modules', 'postgres');
const files = ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js'].map((f) => join(root, f));

const NEXT_WRITE = '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)';
const GUARDED = `  function nextWrite(fn) {\n    ${MARK}\n    if (socket === null) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)`;
const TEARDOWN = '    clearImmediate(nextWriteTimer)\n';
const FORGETS = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n';

if (!existsSync(root)) process.exit(0);
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
for (const file of files) {
  if (!existsSync(file)) continue;
  const text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) continue;
  // nextWrite once, and the two teardowns (terminate, closed) that cancel its timer.
  if (text.split(NEXT_WRITE).length !== 2 || text.split(TEARDOWN).length !== 3) {
    console.warn(`lakesync: postgres ${version} is not the driver infra/patch-postgres-driver.mjs patches; ${file} left as it is`);
    continue;
  }
  writeFileSync(file, text.replace(NEXT_WRITE, GUARDED).replaceAll(TEARDOWN, FORGETS));
}
