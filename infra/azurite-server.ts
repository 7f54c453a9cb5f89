import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { freePort, GaveUp, waitUntil, withFreshPorts } from './ports.js';
import { stopProcess, tetherToThisProcess } from './tether.js';

export interface AzuriteServer {
  /** The blob service URL, path style: `http://127.0.0.1:<port>/<account>`. */
  endpoint: string;
  account: string;
  /** The account's shared key (base64), fresh for each server. */
  accountKey: string;
  stop(): Promise<void>;
}

interface AzuriteOptions {
  dataDir: string;
  log: (m: string) => void;
}

/**
 * Azurite, Microsoft's Azure Storage emulator (the `azurite` devDependency),
 * serving Blob Storage on loopback for one account with a fresh random key.
 * Telemetry is off: it would try to reach the internet.
 */
export function startAzurite(opts: AzuriteOptions): Promise<AzuriteServer> {
  return withFreshPorts(() => startOnce(opts));
}

async function startOnce(opts: AzuriteOptions): Promise<AzuriteServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const port = await freePort();
  const account = `lakesync${randomBytes(4).toString('hex')}`;
  const accountKey = randomBytes(64).toString('base64');
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const args = ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', opts.dataDir, '--silent', '--disableTelemetry', '--skipApiVersionCheck'];
  const child = spawn(process.execPath, [main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AZURITE_ACCOUNTS: `${account}:${accountKey}` },
  });
  tetherToThisProcess(child.pid!, 'TERM');
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const endpoint = `http://127.0.0.1:${port}/${account}`;
  await waitUntil(
    'Azurite',
    async () => {
      if (child.exitCode !== null) throw new GaveUp(`exited with ${child.exitCode}: ${output}`);
      // Any answer from the blob service (an unauthenticated list is refused with 403) means it is up.
      const res = await fetch(`${endpoint}?comp=list`);
      if (res.status >= 500) throw new Error(`answered ${res.status}`);
    },
    60_000,
  ).catch(async (err) => {
    await stopProcess(child, 'SIGKILL');
    throw err;
  });
  opts.log(`azurite: blob service on ${endpoint}`);
  return {
    endpoint,
    account,
    accountKey,
    stop: async () => {
      await stopProcess(child, 'SIGTERM');
      await rm(opts.dataDir, { recursive: true, force: true });
    },
  };
}
