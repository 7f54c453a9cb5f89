import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The suite runs on the current Node LTS even where the machine's own `node` is older: package.json's `node`
// devDependency installs that LTS into node_modules/.bin, which `npm test` and `npm run dev` put first on PATH, so
// tsc, eslint, vitest (and its forks), tsx and every child a test starts with process.execPath run on it.
// Moving to the next LTS: bump this, `engines`, the `node` devDependency and the Dockerfile's image together.
const LTS = 24;

const major = (version: string) => Number(/(\d+)\./.exec(version)?.[1]);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

describe('the Node the suite runs on', () => {
  it('is the LTS package.json declares and installs', () => {
    expect(pkg.engines.node).toBe(`>=${LTS}`);
    expect(major(pkg.devDependencies.node ?? '')).toBe(LTS);
    expect(major(process.versions.node), `vitest runs on Node ${process.version} (${process.execPath})`).toBeGreaterThanOrEqual(LTS);
  });

  it('is also what the children tests start run on', () => {
    // How the e2e tests start workers, `npm run dev` and the CLI.
    const child = execFileSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
    expect(child).toBe(process.version);
    // How `#!/usr/bin/env node` tools (tsx, tsc, vitest) and package.json's scripts find `node`.
    const onPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim();
    expect(onPath, 'the `node` on PATH: run the suite through npm (npm test) so node_modules/.bin comes first').toBe(process.version);
  });
});
