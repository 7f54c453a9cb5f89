/**
 * `npm run dev`: lakesync on its embedded defaults — Temporal dev server with
 * Web UI, embedded Postgres, a directory lake — all state under .lakesync/.
 * The state directory's lock is taken before the rest of lakesync loads
 * (seconds of imports), so a second start there answers at once.
 */
import { loadEnv, stateDir } from '../config/env.js';
import { lockStateDir } from '../infra/state-lock.js';
import { StartupFailure, startStep } from '../infra/startup-failure.js';
import { exitOnStartupFailure, writeAllSync } from './fatal.js';
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

// From here on, a signal stops dev in order: `npm run dev` runs the tsx CLI, whose child exits at once on a signal nobody else listens for, which would leave the
// servers running with the lock gone. The first one marks the lock stopping and stops whatever has started. A second one ends dev at once, as it does the API and
// the worker, but leaves the lock: it then names a pid that is gone, which the next start takes over, while the servers' tethers stop them. The lock is released only
// once the servers are known stopped.
const stopRequested = new AbortController();
/**
 * The tsx CLI (our parent, over an IPC channel) relays a Ctrl-C it got itself when dev has not acknowledged it within 30 ms, as on a loaded machine: the same
 * Ctrl-C a second time, not a second one.
 */
const RELAYED_WITHIN_MS = 2000;
let firstSignalAt = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested.signal.aborted) {
    if (process.channel && Date.now() - firstSignalAt < RELAYED_WITHIN_MS) return;
    writeAllSync(2, `\n${signal} again: exiting now; the servers lakesync dev started stop by themselves within seconds\n`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.kill(process.pid, signal);
    return;
  }
  firstSignalAt = Date.now();
  log.info(`${signal}: stopping`);
  // A start waiting on the lock now knows it will be free soon.
  lock.markStopping();
  stopRequested.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const { runDev } = await import('./dev-stack.js');
const { code, stopped } = await runDev(env, log, lock, stopRequested.signal);
if (stopped) lock.release();
process.exit(code);
