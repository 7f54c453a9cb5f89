#!/usr/bin/env node
// Starts the lakesync CLI: the compiled dist/cli/index.js when a build made
// one, else the TypeScript source through tsx, so a fresh clone needs no build.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = new URL('../dist/cli/index.js', import.meta.url);

if (existsSync(fileURLToPath(compiled))) {
  await import(compiled.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`lakesync: no compiled CLI (dist/cli/index.js) and no tsx to run the source; run npm install (or npm run build) in ${root}\n`);
    process.exit(1);
  }
  register();
  await import(pathToFileURL(`${root}cli/index.ts`).href);
}
