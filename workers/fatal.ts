import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { describeStartupFailure } from '../infra/startup-failure.js';

/**
 * Prints why `what` could not start and exits 1. The text is written to
 * stderr synchronously: a logger's transport (dev's pretty printer runs in a
 * thread) loses whatever is still queued when the process exits. A JSON
 * logger (`npm start`, `npm run worker`) gets the line too, for collectors.
 */
export function exitOnStartupFailure(what: string, err: unknown, log?: Logger): never {
  const { summary, detail } = describeStartupFailure(err);
  log?.fatal({ err }, `${what} failed to start: ${summary}`);
  writeSync(2, `\n${what} failed to start: ${summary}\n${detail ? `\n${detail}\n` : ''}`);
  process.exit(1);
}
