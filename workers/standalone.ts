import { readFile } from 'node:fs/promises';
import { loadEnv, workerForceSeconds, workerVersion, type Env } from '../config/env.js';
import { StartupFailure } from '../infra/startup-failure.js';
import { exitOnStartupFailure, handleUncaughtExceptions } from './fatal.js';
import { createLogger } from './logger.js';
import { startRuntime } from './app-runtime.js';
import { fsAccessFromEnv } from './fs-access.js';
import { installTemporalLogging } from './temporal-logging.js';
import { prebuiltBundlePath } from './bundle-paths.js';
import { temporalMetricsBridge } from '../metrics/temporal-sdk.js';
import { heapLimitWarning } from './heap-limit.js';

/** The workflow bundle to run: the one configured, else the one `npm run build` wrote beside the compiled code. */
async function workflowBundle(env: Env): Promise<{ code: string; path: string } | undefined> {
  const path = env.WORKFLOW_BUNDLE_PATH ?? prebuiltBundlePath;
  if (!path) return undefined; // running the TypeScript sources: bundle at start
  try {
    return { code: await readFile(path, 'utf8'), path };
  } catch (err) {
    const hint = env.WORKFLOW_BUNDLE_PATH ? 'check WORKFLOW_BUNDLE_PATH' : 'run `npm run build`, which writes it';
    throw new Error(`workflow bundle ${path} is unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${hint}`);
  }
}

/** `npm start` / `npm run worker`: one role, against configured Postgres and Temporal. */
export async function runStandalone(role: 'api' | 'worker'): Promise<void> {
  let env: Env;
  try {
    env = loadEnv();
  } catch (err) {
    exitOnStartupFailure(`lakesync ${role}`, new StartupFailure('configuration', err));
  }
  const log = createLogger(env.LOG_LEVEL);
  // A connection Postgres or a peer dropped (a restart, a reset) fails the work on it; it is no reason to end the process.
  handleUncaughtExceptions(`lakesync ${role}`, log);
  // Node's own warnings (deprecations, the AWS SDK's engine notice) as log lines too; run with --no-warnings so they are not printed twice.
  process.on('warning', (warning) => log.warn({ warning: { name: warning.name, message: warning.message } }, 'node warning'));
  if (role === 'worker') installTemporalLogging(log, temporalMetricsBridge().buffer);
  const missing = [
    !env.TEMPORAL_ADDRESS && 'TEMPORAL_ADDRESS',
    !env.DATABASE_URL && 'DATABASE_URL',
    !env.LAKESYNC_SECRET_KEY && 'LAKESYNC_SECRET_KEY',
    role === 'api' && !env.LAKESYNC_AUTH_SECRET && !env.LAKESYNC_AUTH_JWKS_URL && 'LAKESYNC_AUTH_SECRET or LAKESYNC_AUTH_JWKS_URL',
  ].filter(Boolean);
  if (missing.length) {
    exitOnStartupFailure(
      `lakesync ${role}`,
      new StartupFailure('configuration', new Error(`set ${missing.join(', ')} (or use \`npm run dev\` for the embedded defaults)`)),
      log,
    );
  }
  try {
    const bundle = role === 'worker' ? await workflowBundle(env) : undefined;
    const runtime = await startRuntime({
      env,
      temporalAddress: env.TEMPORAL_ADDRESS!,
      databaseUrl: env.DATABASE_URL!,
      secretKey: env.LAKESYNC_SECRET_KEY!,
      log,
      runApi: role === 'api',
      runWorker: role === 'worker',
      workflowBundle: bundle,
    });
    if (role === 'api') log.info({ grpcAddress: runtime.grpcAddress }, `lakesync API listening on ${runtime.url}`);
    else
      log.info(
        { metricsUrl: runtime.metricsUrl, workflowBundle: bundle?.path ?? 'bundled at start', workerVersion: workerVersion(env) ?? 'unversioned' },
        `lakesync worker polling task queue ${env.TEMPORAL_TASK_QUEUE}${runtime.metricsUrl ? `, metrics on ${runtime.metricsUrl}` : ''}`,
      );
    const heapWarning = role === 'worker' ? heapLimitWarning() : undefined;
    if (heapWarning) log.warn(heapWarning);
    log.info(`filesystem roots: ${fsAccessFromEnv(env).describe()}`);
    const stop = async (signal: NodeJS.Signals) => {
      // A second signal finds no handler and ends the process at once: the operator's way to force it.
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info(
        role === 'api'
          ? `${signal}: not accepting connections; in-flight requests have ${env.API_SHUTDOWN_GRACE_SECONDS} s to finish`
          : `${signal}: not polling; in-flight activities have ${env.WORKER_SHUTDOWN_GRACE_SECONDS} s before they are cancelled, the worker ${workerForceSeconds(env)} s to drain`,
      );
      const clean = await runtime.stop().catch((err: unknown) => {
        log.error({ err }, 'stop failed');
        return false;
      });
      if (clean) log.info(`lakesync ${role} stopped gracefully`);
      else log.warn(`lakesync ${role} stopped, cutting work that outlived its grace period`);
      process.exit(clean ? 0 : 1);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (err) {
    exitOnStartupFailure(`lakesync ${role}`, err, log);
  }
}
