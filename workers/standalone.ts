import { readFile } from 'node:fs/promises';
import { loadEnv, type Env } from '../config/env.js';
import { createLogger } from './logger.js';
import { startRuntime } from './app-runtime.js';
import { installTemporalLogging } from './temporal-logging.js';

/** `npm start` / `npm run worker`: one role, against configured Postgres and Temporal. */
export async function runStandalone(role: 'api' | 'worker'): Promise<void> {
  let env: Env;
  try {
    env = loadEnv();
  } catch (err) {
    console.error(String((err as Error).message));
    process.exit(1);
  }
  const log = createLogger(env.LOG_LEVEL);
  if (role === 'worker') installTemporalLogging(log);
  const missing = [
    !env.TEMPORAL_ADDRESS && 'TEMPORAL_ADDRESS',
    !env.DATABASE_URL && 'DATABASE_URL',
    !env.LAKESYNC_SECRET_KEY && 'LAKESYNC_SECRET_KEY',
    role === 'api' && !env.LAKESYNC_AUTH_SECRET && !env.LAKESYNC_AUTH_JWKS_URL && 'LAKESYNC_AUTH_SECRET or LAKESYNC_AUTH_JWKS_URL',
  ].filter(Boolean);
  if (missing.length) {
    log.fatal(`set ${missing.join(', ')} (or use \`npm run dev\` for the embedded defaults)`);
    process.exit(1);
  }
  try {
    const workflowBundle = env.WORKFLOW_BUNDLE_PATH ? { code: await readFile(env.WORKFLOW_BUNDLE_PATH, 'utf8') } : undefined;
    const runtime = await startRuntime({ env, temporalAddress: env.TEMPORAL_ADDRESS!, databaseUrl: env.DATABASE_URL!, secretKey: env.LAKESYNC_SECRET_KEY!, log, runApi: role === 'api', runWorker: role === 'worker', workflowBundle });
    log.info(role === 'api' ? `lakesync API listening on ${runtime.url}` : `lakesync worker polling task queue ${env.TEMPORAL_TASK_QUEUE}`);
    const stop = async () => {
      await runtime.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  } catch (err) {
    log.fatal({ err }, `lakesync ${role} failed to start`);
    process.exit(1);
  }
}
