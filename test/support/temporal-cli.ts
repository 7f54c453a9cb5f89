import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);

/** Runs the real `temporal` CLI against the suite's server, exactly as an operator would. */
export async function temporalCli(...args: string[]): Promise<string> {
  const infra = inject('infra');
  const { stdout } = await run(infra.temporalCli, [...args, '--address', infra.temporalAddress, '--namespace', 'default'], { timeout: 30_000 });
  return stdout;
}
