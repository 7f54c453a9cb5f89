/** What `npm run dev` runs once it holds the state directory: the embedded servers, then the API and the worker in this process. */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { lakeDir, stateDir, type Env } from '../config/env.js';
import { fsAccessFromEnv } from './fs-access.js';
import { startEmbeddedServices, TEMPORAL_CONVENTIONAL_PORT, type EmbeddedServices } from '../infra/embedded.js';
import type { StateDirLock } from '../infra/state-lock.js';
import { within } from './within.js';
import { reportStartupFailure } from './fatal.js';
import { startRuntime } from './app-runtime.js';
import { installTemporalLogging } from './temporal-logging.js';
import { temporalMetricsBridge } from '../metrics/temporal-sdk.js';
import { devSecretKey } from './secret-key.js';
import { devAuth } from './dev-auth.js';

/** The address line, with what the `temporal` CLI needs when Temporal is not on its default port. */
function temporalLine(address: string): string {
  if (address.endsWith(`:${TEMPORAL_CONVENTIONAL_PORT}`))
    return `Temporal          ${address} (the temporal CLI's default: \`temporal workflow list\` works as is)`;
  return `Temporal          ${address} (${TEMPORAL_CONVENTIONAL_PORT} was taken); for the temporal CLI, in another terminal:\nexport TEMPORAL_ADDRESS=${address}`;
}

/** What start-up has brought up so far, for whoever stops it. */
interface Started {
  services?: EmbeddedServices;
  runtime?: Awaited<ReturnType<typeof startRuntime>>;
}

/** A start that fails stops what it started within this long (Postgres alone may take 15 s); past it, dev exits and the servers' tethers stop them. */
const FAILED_START_STOP_MS = 45_000;

async function start(env: Env, log: Logger, lock: StateDirLock, stopRequested: AbortSignal, started: Started): Promise<void> {
  const dir = stateDir(env);
  const services = await startEmbeddedServices({
    stateDir: dir,
    cacheDir: env.LAKESYNC_CACHE_DIR,
    searchPath: env.PATH,
    temporalCliPath: env.TEMPORAL_CLI_PATH,
    temporalAddress: env.TEMPORAL_ADDRESS,
    databaseUrl: env.DATABASE_URL,
    uiPort: env.TEMPORAL_UI_PORT,
    log: (m) => log.info(m),
    // Should dev be killed, a start taking its lock over waits for these: their tethers stop them within seconds, and they hold this directory's files.
    onServer: (pid) => lock.addServer(pid),
    signal: stopRequested,
  });
  started.services = services;
  stopRequested.throwIfAborted();
  const secretKey = env.LAKESYNC_SECRET_KEY ?? (await devSecretKey(join(dir, 'secret-key')));
  const auth = await devAuth(dir, env.LAKESYNC_AUTH_SECRET);
  stopRequested.throwIfAborted();
  // The API's /metrics never shows per-source series: the worker's own loopback endpoint does, on a free port unless one is set.
  const runtime = await startRuntime({
    env: { ...env, WORKER_METRICS_PORT: env.WORKER_METRICS_PORT ?? 0 },
    temporalAddress: services.temporalAddress,
    databaseUrl: services.databaseUrl,
    secretKey,
    authSecret: auth.secret,
    log,
    runApi: true,
    runWorker: true,
  });
  started.runtime = runtime;
  stopRequested.throwIfAborted();
  log.info(`lakesync API      ${runtime.url}`);
  log.info(`lakesync gRPC     ${runtime.grpcAddress} (grpcurl -plaintext ${runtime.grpcAddress} list)`);
  log.info(`worker metrics    ${runtime.metricsUrl}`);
  log.info(`dev token         ${auth.tokenFile} (org "dev", scopes read write admin):\n${auth.token}`);
  if (!env.TEMPORAL_ADDRESS) log.info(temporalLine(services.temporalAddress));
  if (services.temporalUiUrl) log.info(`Temporal Web UI   ${services.temporalUiUrl}`);
  log.info(`lake directory    ${lakeDir(env)}`);
  log.info(`filesystem roots  ${fsAccessFromEnv(env).describe()}`);
}

/** Stops the runtime, then the servers. */
async function stopStarted(log: Logger, { services, runtime }: Started): Promise<void> {
  // Ctrl-C in a terminal reaches the Temporal dev server too: once it is gone the worker cannot drain, and would wait out its force time.
  let drained = false;
  const stopped = (runtime?.stop() ?? Promise.resolve()).catch((err: unknown) => log.error({ err }, 'runtime stop failed')).then(() => (drained = true));
  const temporalGone = services?.temporalExited?.then(() => {
    if (!drained) log.warn('the Temporal dev server has stopped: not waiting for the worker to drain');
  });
  await Promise.race([stopped, temporalGone ?? stopped]);
  await services?.stop();
}

/**
 * Starts everything, then runs until `stopRequested` is aborted (dev.ts does
 * so on SIGINT/SIGTERM, from the moment it holds the lock, and marks the lock
 * stopping). Resolves with the exit code once what was started is stopped; a
 * start that fails says why first, then stops what it started, within a limit.
 * The caller releases the lock only when this says the servers are stopped.
 */
export async function runDev(env: Env, log: Logger, lock: StateDirLock, stopRequested: AbortSignal): Promise<{ code: number; stopped: boolean }> {
  installTemporalLogging(log, temporalMetricsBridge().buffer);
  const started: Started = {};
  try {
    await start(env, log, lock, stopRequested, started);
  } catch (err) {
    if (!stopRequested.aborted) {
      // The reason first, at once: stopping what did start may take long or hang.
      reportStartupFailure('lakesync dev', err, log);
      // The servers started so far stop before the lock goes, so a start right after finds their files free.
      lock.markStopping();
      const stopped = await within(stopStarted(log, started), FAILED_START_STOP_MS);
      if (!stopped) log.error(`the servers dev started did not stop within ${FAILED_START_STOP_MS / 1000} s: exiting; they stop once it has exited`);
      return { code: 1, stopped };
    }
  }
  if (!stopRequested.aborted) await new Promise((resolve) => stopRequested.addEventListener('abort', resolve, { once: true }));
  await stopStarted(log, started);
  return { code: 0, stopped: true };
}
