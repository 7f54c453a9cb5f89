import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { describeStartupFailure } from '../infra/startup-failure.js';
import { postgresGoneCode } from '../domain/unreachable.js';

/** Writes all of `text` to `fd` now, waiting out EAGAIN (a non-blocking pipe that is full); gives up quietly on any other error. */
export function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let off = 0;
  for (let tries = 0; off < buf.length;) {
    try {
      off += writeSync(fd, buf, off);
      tries = 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 5000) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * Prints why `what` could not start, at once. The text is written to stderr
 * synchronously, before anything else is tried: a logger's transport (dev's
 * pretty printer runs in a thread) loses whatever is still queued when the
 * process exits, and stopping what did start can take a while or hang. A
 * JSON logger (`npm start`, `npm run worker`) gets the line too, for collectors.
 */
export function reportStartupFailure(what: string, err: unknown, log?: Logger): void {
  const { summary, detail } = describeStartupFailure(err);
  writeAllSync(2, `\n${what} failed to start: ${summary}\n${detail ? `\n${detail}\n` : ''}`);
  log?.fatal({ err }, `${what} failed to start: ${summary}`);
}

/** reportStartupFailure, then exit 1: for a start that has nothing running to stop. */
export function exitOnStartupFailure(what: string, err: unknown, log?: Logger): never {
  reportStartupFailure(what, err, log);
  process.exit(1);
}

/**
 * A connection its server dropped: a reset or broken socket whose owner has stopped listening for its errors (seen in dev as an uncaught
 * `read ECONNRESET`) or refused on reconnecting (`connect ECONNREFUSED`), or a postgres.js query failing because its server went away with nobody awaiting it (seen as an unhandled `write CONNECTION_CLOSED`
 * from postgres.js's own transaction code). In dev both follow Ctrl-C, which stops the embedded Postgres under live connections; the work that was
 * awaited fails on its own, with the same cause.
 */
function isDroppedConnection(err: unknown, stopping: boolean): boolean {
  if (!(err instanceof Error)) return false;
  const { code, syscall } = err as NodeJS.ErrnoException;
  return (
    ((code === 'ECONNRESET' || code === 'EPIPE') && (syscall === 'read' || syscall === 'write')) ||
    // A reconnect to a server that has gone, once stopping (dev's Ctrl-C stops the embedded Postgres under queries in flight); before
    // that, an uncaught refusal is a missing error handler on some socket, and ends the process as any other bug does.
    (stopping && code === 'ECONNREFUSED' && syscall === 'connect') ||
    (code !== undefined && postgresGoneCode(code))
  );
}

/**
 * An uncaught exception (or unhandled rejection) ends `what` as Node's default would (the error on stderr, exit 1), written synchronously. A connection the other end dropped
 * (isDroppedConnection) is logged and passed over instead: the work on it has failed already, with the same cause, so it is no
 * reason to end the process: Postgres restarting under the API or a worker, or dev's embedded Postgres stopping at Ctrl-C.
 * `stopping` says whether the process is stopping (dev: from the first signal on).
 */
export function handleUncaughtExceptions(what: string, log: Logger, stopping: () => boolean = () => false): void {
  process.on('uncaughtException', (err) => {
    if (isDroppedConnection(err, stopping())) {
      log.warn({ err }, 'a connection was dropped under work in progress (its server stopped or restarted): that work failed; carrying on');
      return;
    }
    writeAllSync(2, `\n${what}: uncaught exception\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
