import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

export interface MinioServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

/** A real MinIO server on loopback with fresh random root credentials. */
export function startMinio(opts: MinioOptions): Promise<MinioServer> {
  return withFreshPorts(() => startOnce(opts));
}

interface MinioOptions {
  binary: string;
  dataDir: string;
  persistent?: boolean;
  /** A fixed port and root credentials, to start a stopped server again as the same endpoint (outage tests). */
  port?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** More MINIO_* settings, read at start (notification targets: MINIO_NOTIFY_WEBHOOK_*). */
  env?: Record<string, string>;
  log: (m: string) => void;
}

async function startOnce(opts: MinioOptions): Promise<MinioServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const consolePort = await freePort();
  const accessKeyId = opts.credentials?.accessKeyId ?? `lakesync${randomBytes(4).toString('hex')}`;
  const secretAccessKey = opts.credentials?.secretAccessKey ?? randomBytes(24).toString('base64url');
  const child = spawn(opts.binary, ['server', opts.dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      ...opts.env,
      MINIO_ROOT_USER: accessKeyId,
      MINIO_ROOT_PASSWORD: secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_CI_CD: '1',
    },
  });
  tetherToThisProcess(child.pid!, 'TERM');
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil(
    'MinIO',
    async () => {
      if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${stderr}`);
      const res = await fetch(`${endpoint}/minio/health/ready`);
      if (!res.ok) throw new Error(`health ${res.status}`);
    },
    60_000,
  ).catch(async (err) => {
    await stopProcess(child, 'SIGKILL');
    throw err;
  });
  opts.log(`minio: server on ${endpoint}`);
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    stop: async () => {
      await stopProcess(child, 'SIGTERM');
      if (!opts.persistent) await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
}
