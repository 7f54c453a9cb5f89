// `npm start` / `npm run worker` run the compiled code in dist/: say so plainly when it is missing or older than the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const role = process.argv[2];
const needed = ['dist/workflow-bundle.js', `dist/workers/${role}.js`];
const missing = needed.filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`lakesync: ${missing.join(', ')} not found: run \`npm run build\` first (\`npm run dev\` runs the sources directly)`);
  process.exit(1);
}
const newest = (dir) => {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith('.ts')) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  return t;
};
const sources = ['activities', 'api', 'catalog', 'config', 'db', 'domain', 'infra', 'lake', 'metrics', 'workers', 'workflows'].filter((d) => existsSync(d));
if (sources.length && Math.max(...sources.map(newest)) > statSync('dist/workflow-bundle.js').mtimeMs) {
  console.error('lakesync: warning: dist/ is older than the sources; run `npm run build` to run what you see');
}
