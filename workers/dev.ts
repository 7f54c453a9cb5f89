/**
 * `npm run dev`: lakesync on its embedded defaults — Temporal dev server with
 * Web UI, embedded Postgres, a directory lake — all state under .lakesync/.
 */
import { join } from 'node:path';
import { lakeDir, loadEnv, stateDir } from '../config/env.js';
import { fsAccessFromEnv } from './fs-access.js';
import { startEmbeddedServices } from '../infra/embedded.js';
import { createLogger } from './logger.js';
import { startRuntime } from './app-runtime.js';
import { installTemporalLogging } from './temporal-logging.js';
import { temporalMetricsBridge } from '../metrics/temporal-sdk.js';
import { devSecretKey } from './secret-key.js';
import { devAuth } from './dev-auth.js';

const env = loadEnv();
const log = createLogger(env.LOG_LEVEL, true);
installTemporalLogging(log, temporalMetricsBridge().buffer);
const dir = stateDir(env);

async function main() {
  const services = await startEmbeddedServices({
    stateDir: dir,
    cacheDir: env.LAKESYNC_CACHE_DIR,
    searchPath: env.PATH,
    temporalCliPath: env.TEMPORAL_CLI_PATH,
    temporalAddress: env.TEMPORAL_ADDRESS,
    databaseUrl: env.DATABASE_URL,
    uiPort: env.TEMPORAL_UI_PORT ?? 8233,
    log: (m) => log.info(m),
  });
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
  log.info(`lakesync gRPC     ${runtime.grpcAddress} (grpcurl -plaintext ${runtime.grpcAddress} list)`);
  log.info(`worker metrics    ${runtime.metricsUrl}`);
  log.info(`dev token         ${auth.tokenFile} (org "dev", scopes read write admin):\n${auth.token}`);
  if (services.temporalUiUrl) log.info(`Temporal Web UI   ${services.temporalUiUrl}`);
  log.info(`lake directory    ${lakeDir(env)}`);
  log.info(`filesystem roots  ${fsAccessFromEnv(env).describe()}`);

  const stop = async (signal: NodeJS.Signals) => {
    // A second signal finds no handler and ends the process at once; the servers started here then stop with their tethers.
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    log.info(`${signal}: stopping`);
    await runtime.stop().catch((err) => log.error({ err }, 'runtime stop failed'));
    await services.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  log.fatal({ err }, 'lakesync dev failed to start');
  process.exit(1);
});
