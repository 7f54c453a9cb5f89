import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run replay:record`: drives the workflows and writes test/replay/histories/ (not part of `npm test`). */
export default defineConfig({ ...base, test: { ...base.test, include: ['test/replay/**/*.replay.ts'] } });
