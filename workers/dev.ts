/**
 * `npm run dev`: lakesync on its embedded defaults — Temporal dev server with
 * Web UI, embedded Postgres, a directory lake — all state under .lakesync/.
 * The state directory's lock is taken before the rest of lakesync loads
 * (seconds of imports), so a second start there answers at once.
 */
import { loadEnv, stateDir } from '../config/env.js';
import { lockStateDir } from '../infra/state-lock.js';
import { StartupFailure, startStep } from '../infra/startup-failure.js';
import { exitOnStartupFailure, handleUncaughtExceptions, writeAllSync } from './fatal.js';
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
// Aborted by the first SIGINT/SIGTERM once the lock is held (below); a refused connection after it is the stopped embedded Postgres.
const stopRequested = new AbortController();
handleUncaughtExceptions('lakesync dev', log, () => stopRequested.signal.aborted);
const dir = stateDir(env);
const lock = await startStep('state directory', () =>
  lockStateDir(dir, {
    waitForStoppingMs: WAIT_FOR_STOPPING_MS,
    onWait: (owner, servers) =>
      log.info(
        servers
          ? `${dir} was held by process ${owner.pid}, which is gone: waiting for the servers it started (process ${servers.join(', ')}) to stop`
          : `${dir} is held by process ${owner.pid}, which is stopping: waiting for it to exit (up to ${WAIT_FOR_STOPPING_MS / 1000} s)`,
      ),
  }),
).catch((err: unknown) => exitOnStartupFailure('lakesync dev', err));

// From here on, a signal stops dev in order: the first one marks the lock stopping and stops whatever has started. A second one ends dev at once, as it does the
// API and the worker, but leaves the lock: it then names a pid that is gone, which the next start takes over, while the servers' tethers stop them. The lock is
// released only once the servers are known stopped.
/**
 * package.json runs dev as `exec node --import tsx workers/dev.ts`: with `exec`, npm's child is dev itself, so npm waits for dev's stop and exits with its
 * code (otherwise sh dies at Ctrl-C, and npm with it, handing the terminal back while dev still stops); tsx is a loader, not the tsx CLI, which SIGKILLs
 * its child when the child's event loop has not acknowledged a signal within 2 × 30 ms, as a busy or loaded dev does not. npm forwards every SIGINT and
 * SIGTERM it gets to dev, and a terminal's Ctrl-C reaches both: dev gets the same Ctrl-C twice, a few milliseconds apart on a quiet machine, later on a
 * loaded one. A repeat within this long is that one, not a second Ctrl-C.
 */
const RELAYED_WITHIN_MS = 2000;
let firstSignalAt = 0;
const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested.signal.aborted) {
    if (Date.now() - firstSignalAt < RELAYED_WITHIN_MS) return;
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
