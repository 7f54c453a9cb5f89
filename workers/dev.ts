/**
 * `npm run dev`: lakesync on its embedded defaults — Temporal dev server with
 * Web UI, embedded Postgres, a directory lake — all state under .lakesync/.
 * The state directory's lock is taken before the rest of lakesync loads
 * (seconds of imports), so a second start there answers at once.
 */
import { loadEnv, stateDir } from '../config/env.js';
import { lockStateDir } from '../infra/state-lock.js';
import { StartupFailure, startStep } from '../infra/startup-failure.js';
import { exitOnStartupFailure } from './fatal.js';
import { createLogger } from './logger.js';

/** A stop that was asked for (Ctrl-C) but takes longer than this makes a start waiting for it give up. */
const WAIT_FOR_STOPPING_MS = 10_000;

const env = (() => {
  try {
    return loadEnv();
  } catch (err) {
    exitOnStartupFailure('lakesync dev', new StartupFailure('configuration', err));
  }
})();
const log = createLogger(env.LOG_LEVEL, true);
const dir = stateDir(env);
const lock = await startStep('state directory', () =>
  lockStateDir(dir, {
    waitForStoppingMs: WAIT_FOR_STOPPING_MS,
    onWait: (owner) => log.info(`${dir} is held by process ${owner.pid}, which is stopping: waiting for it to exit (up to ${WAIT_FOR_STOPPING_MS / 1000} s)`),
  }),
).catch((err: unknown) => exitOnStartupFailure('lakesync dev', err));
// Synchronous, so it runs however the process exits short of a signal's default action (then the next start finds the pid gone).
process.on('exit', () => lock.release());

const { runDev } = await import('./dev-stack.js');
await runDev(env, log, lock);
