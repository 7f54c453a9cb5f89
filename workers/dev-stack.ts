/** What `npm run dev` runs once it holds the state directory: the embedded servers, then the API and the worker in this process. */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { lakeDir, stateDir, type Env } from '../config/env.js';
import { fsAccessFromEnv } from './fs-access.js';
import { startEmbeddedServices, TEMPORAL_CONVENTIONAL_PORT, type EmbeddedServices } from '../infra/embedded.js';
import type { StateDirLock } from '../infra/state-lock.js';
import { exitOnStartupFailure } from './fatal.js';
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

async function start(env: Env, log: Logger, lock: StateDirLock, started: (s: EmbeddedServices) => void): Promise<void> {
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
  });
  started(services);
  const secretKey = env.LAKESYNC_SECRET_KEY ?? (await devSecretKey(join(dir, 'secret-key')));
  const auth = await devAuth(dir, env.LAKESYNC_AUTH_SECRET);
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
  log.info(`lakesync API      ${runtime.url}`);
  log.info(`worker metrics    ${runtime.metricsUrl}`);
  log.info(`dev token         ${auth.tokenFile} (org "dev", scopes read write admin):\n${auth.token}`);
  if (!env.TEMPORAL_ADDRESS) log.info(temporalLine(services.temporalAddress));
  if (services.temporalUiUrl) log.info(`Temporal Web UI   ${services.temporalUiUrl}`);
  log.info(`lake directory    ${lakeDir(env)}`);
  log.info(`filesystem roots  ${fsAccessFromEnv(env).describe()}`);

  const stop = async (signal: NodeJS.Signals) => {
    // A second signal finds no handler and ends the process at once; the servers started here then stop with their tethers.
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    log.info(`${signal}: stopping`);
    // A start waiting on the lock now knows it will be free soon.
    lock.markStopping();
    // Ctrl-C in a terminal reaches the Temporal dev server too: once it is gone the worker cannot drain, and would wait out its force time.
    let drained = false;
    const stopped = runtime
      .stop()
      .catch((err) => log.error({ err }, 'runtime stop failed'))
      .then(() => (drained = true));
    const temporalGone = services.temporalExited?.then(() => {
      if (!drained) log.warn('the Temporal dev server has stopped: not waiting for the worker to drain');
    });
    await Promise.race([stopped, temporalGone ?? stopped]);
    await services.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export async function runDev(env: Env, log: Logger, lock: StateDirLock): Promise<void> {
  installTemporalLogging(log, temporalMetricsBridge().buffer);
  let services: EmbeddedServices | undefined;
  await start(env, log, lock, (s) => (services = s)).catch(async (err: unknown) => {
    // The servers started so far stop before the lock goes, so a start right after finds their files free.
    lock.markStopping();
    await services?.stop();
    exitOnStartupFailure('lakesync dev', err);
  });
}
