import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The suite's settings without its projects, whose includes would override this one.
const { projects: _projects, ...settings } = base.test!;

/** `npm run replay:record`: drives the workflows and writes test/replay/histories/ (not part of `npm test`). */
export default defineConfig({ ...base, test: { ...settings, include: ['test/replay/**/*.replay.ts'] } });
