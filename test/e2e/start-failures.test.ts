/**
 * `npm start` and `npm run worker` that cannot start: the reason reaches the
 * terminal (stderr, written before the exit) naming the component and the
 * setting to change, the JSON log carries it too, and the exit code is 1.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { tetherToThisProcess } from '../../infra/tether.js';
import { unique } from '../support/lakesync.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a role as `npm start` / `npm run worker` do (from the sources) until it exits. */
function run(role: 'api' | 'worker', env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', `workers/${role}.ts`], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tetherToThisProcess(child.pid!, 'KILL');
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The fatal JSON log line, if the process wrote one. */
const fatalLine = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .find((l) => l.level === 60);

describe('npm start and npm run worker failing to start', () => {
  let held: Server;
  let port: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    held = await new Promise<Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    });
    port = (held.address() as { port: number }).port;
    const infra = inject('infra');
    const dbName = unique('lakesync_test').replace(/-/g, '_');
    await ensureDatabase(infra.postgresAdminUrl, dbName);
    env = {
      TEMPORAL_ADDRESS: infra.temporalAddress,
      TEMPORAL_TASK_QUEUE: unique('start-failures'),
      DATABASE_URL: infra.postgresAdminUrl.replace(/\/postgres$/, `/${dbName}`),
      LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
      LAKESYNC_AUTH_SECRET: randomBytes(24).toString('base64url'),
      HOST: '127.0.0.1',
      // Any free port: the default 9090 would clash with another test's API.
      GRPC_PORT: '0',
      WORKFLOW_BUNDLE_PATH: infra.workflowBundlePath,
    };
  });

  afterAll(async () => {
    await new Promise((r) => held.close(r));
  });

  it('npm start on a port another program holds: the API, the port and PORT named; exit 1', async () => {
    const { code, stdout, stderr } = await run('api', { ...env, PORT: String(port) });
    const summary = `lakesync api failed to start: API: port ${port} on 127.0.0.1 is already in use by another program (set PORT to use another)`;
    expect(code).toBe(1);
    expect(stderr).toContain(summary);
    expect(stderr).toContain('EADDRINUSE');
    expect(fatalLine(stdout)?.msg).toBe(summary);
  });

  it('npm run worker with its metrics port taken, and with no configuration: the component and why; exit 1', async () => {
    const taken = await run('worker', { ...env, WORKER_METRICS_PORT: String(port) });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(
      `lakesync worker failed to start: worker metrics endpoint: port ${port} on 127.0.0.1 is already in use by another program (WORKER_METRICS_HOST / WORKER_METRICS_PORT)`,
    );
    const unset = await run('worker', {});
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('lakesync worker failed to start: configuration: set TEMPORAL_ADDRESS, DATABASE_URL, LAKESYNC_SECRET_KEY');
  });
});
