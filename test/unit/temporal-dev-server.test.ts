/**
 * The Temporal dev server that exits during start-up: why reaches the error
 * even when the CLI says it on stdout alone (its Web UI does, for a port
 * taken after the CLI checked it), and a taken port there gets fresh ports.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTemporalDevServer } from '../../infra/temporal-server.js';

/** What the CLI's Web UI prints when it cannot bind its port, word for word: one line on stdout, nothing on stderr, then exit 1. */
const uiPortTaken = (port: number) =>
  `{"time":"2026-11-29T13:17:26.301276109Z","level":"FATAL","prefix":"echo","file":"server.go","line":"155","message":"listen tcp 127.0.0.1:${port}: bind: address already in use"}`;

describe('the Temporal dev server exiting as it starts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lakesync-temporal-exit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in for the CLI: counts its starts, fails the first `failures` of them printing `stdout` (on stdout only), then runs the real CLI. */
  async function cli(name: string, stdout: string, failures: number): Promise<{ binary: string; starts: () => Promise<number> }> {
    const binary = join(dir, name);
    const starts = `${binary}.starts`;
    const script = [
      '#!/bin/sh',
      `echo start >> '${starts}'`,
      `if [ "$(wc -l < '${starts}')" -le ${failures} ]; then echo '${stdout}'; exit 1; fi`,
      `exec '${inject('infra').temporalCli}' "$@"`,
    ].join('\n');
    await writeFile(binary, `${script}\n`);
    await chmod(binary, 0o755);
    return { binary, starts: async () => (await readFile(starts, 'utf8')).split('\n').filter(Boolean).length };
  }

  it('its Web UI port taken: said on stdout only, it starts again on fresh ports and comes up', async () => {
    const { binary, starts } = await cli('ui-port-taken', uiPortTaken(8233), 1);
    const server = await startTemporalDevServer({ binary, log: () => undefined });
    try {
      expect(await starts()).toBe(2);
      expect(server.uiUrl).toBeDefined();
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('any other reason on stdout alone: the start fails once, with that reason', async () => {
    const { binary, starts } = await cli('ui-assets', '{"level":"FATAL","prefix":"echo","message":"open ui assets: permission denied"}', 9);
    await expect(startTemporalDevServer({ binary, ui: false, log: () => undefined })).rejects.toThrow(/^exited with 1: .*open ui assets: permission denied/);
    expect(await starts()).toBe(1);
  });
});
