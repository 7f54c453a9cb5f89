/** What the terminal says when lakesync cannot start: the component and why in a line, the detail after. */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeStartupFailure, StartupFailure, startStep } from '../../infra/startup-failure.js';
import { exitReason } from '../../infra/temporal-server.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A Node process running `code` (ESM, TypeScript imports allowed) from the repository root, its stderr collected. */
function node(code: string) {
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('start-up failures', () => {
  it('a taken port: the component, the port and the setting to change, then the error', async () => {
    const held = await listen(0);
    const port = (held.address() as { port: number }).port;
    try {
      const err = await startStep('API', () => listen(port), 'set PORT to use another').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StartupFailure);
      const { summary, detail } = describeStartupFailure(err);
      expect(summary).toBe(`API: port ${port} on 127.0.0.1 is already in use by another program (set PORT to use another)`);
      expect(detail).toContain('EADDRINUSE');
    } finally {
      await new Promise((r) => held.close(r));
    }
  });

  it("a server's output: the reason line first, found in a page of other output", () => {
    const page = [
      ...Array.from({ length: 40 }, (_, i) => `[Fx] PROVIDE\tsomething ${i}`),
      'listen tcp 127.0.0.1:7239: bind: address already in use',
      '[Fx] ERROR',
    ].join('\n');
    expect(exitReason(page).split('\n')[0]).toBe('listen tcp 127.0.0.1:7239: bind: address already in use');
    expect(exitReason("Error: can't set UI port 8233: listen tcp 127.0.0.1:8233: bind: address already in use")).toBe(
      "Error: can't set UI port 8233: listen tcp 127.0.0.1:8233: bind: address already in use",
    );
    const { summary } = describeStartupFailure(new StartupFailure('Temporal dev server', new Error(`exited with 1: ${exitReason(page)}`)));
    expect(summary).toBe('Temporal dev server: port 7239 on 127.0.0.1 is already in use by another program');
    // The CLI's Web UI says it in a JSON line on stdout.
    const ui = '{"level":"FATAL","prefix":"echo","message":"listen tcp 127.0.0.1:18982: bind: address already in use"}';
    expect(describeStartupFailure(new StartupFailure('Temporal dev server', new Error(`exited with 1: ${exitReason(ui)}`))).summary).toBe(
      'Temporal dev server: port 18982 on 127.0.0.1 is already in use by another program',
    );
  });

  it('an invalid environment: its first problems in the summary; an unknown error: its first line', () => {
    const env = describeStartupFailure(new StartupFailure('configuration', new Error('invalid environment:\n  PORT: too big\n  HOST: empty')));
    expect(env.summary).toBe('configuration: invalid environment: PORT: too big HOST: empty');
    const other = describeStartupFailure(new Error('something odd\nmore lines'));
    expect(other.summary).toBe('something odd');
    expect(other.detail).toContain('more lines');
  });

  it('the reason reaches stderr at once, before whatever runs next (a stop that hangs), and a report larger than the pipe arrives whole', async () => {
    const hung = node(`
      import { reportStartupFailure } from './workers/fatal.ts';
      reportStartupFailure('lakesync dev', new Error('the reason'));
      setInterval(() => undefined, 1000); // a stop of the servers that never ends
    `);
    try {
      await expect.poll(() => hung.stderr(), { timeout: 30_000 }).toContain('lakesync dev failed to start: the reason');
      expect(hung.child.exitCode).toBeNull();
    } finally {
      hung.child.kill('SIGKILL');
    }
    // Several times a pipe's 64 KiB: a non-blocking stderr answers EAGAIN while the reader catches up, and the rest is written after it.
    const big = node(`
      import { exitOnStartupFailure } from './workers/fatal.ts';
      process.stderr; // opens fd 2 as a stream: a pipe becomes non-blocking
      exitOnStartupFailure('lakesync dev', new Error('first line\\n' + 'x'.repeat(1024 * 1024) + '\\nthe end'));
    `);
    expect(await big.exited).toBe(1);
    expect(big.stderr()).toContain('lakesync dev failed to start: first line');
    expect(big.stderr()).toContain('x'.repeat(1024 * 1024));
    expect(big.stderr()).toContain('the end');
  }, 60_000);
});
