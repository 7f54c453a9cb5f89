/**
 * What ends dev on an uncaught exception and what does not: a connection dropped by the other end (a transaction whose connection closed under it, as
 * when the embedded Postgres stops at Ctrl-C, which the patched postgres.js no longer turns into a crash; a reset on a socket nobody listens to; a query nobody awaits whose server went away) is
 * passed over; anything else still exits 1 with the error. Run in child processes, against the suite's real Postgres.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `code` (ESM, TypeScript imports allowed) in a Node process from the repository root: its exit code and everything it printed. */
function node(code: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, PG_URL: inject('infra').postgresAdminUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

/**
 * A transaction whose backend is terminated mid-query: postgres.js rejects it with CONNECTION_CLOSED, then writes its own ROLLBACK to the closed
 * connection from a setImmediate (upstream porsager/postgres issue 1208's reproduction).
 */
const closedUnderTransaction = (install: string) => `
  import pino from 'pino';
  import postgres from 'postgres';
  import { handleUncaughtExceptions } from './workers/fatal.ts';
  const log = pino({ base: null }, pino.destination(2));
  ${install}
  const sql = postgres(process.env.PG_URL, { max: 2, onnotice: () => undefined });
  const killer = postgres(process.env.PG_URL, { max: 1 });
  let pid;
  const tx = sql.begin(async (t) => {
    pid = (await t\`select pg_backend_pid() as pid\`)[0].pid;
    await t\`select pg_sleep(10)\`;
  });
  while (pid === undefined) await new Promise((r) => setTimeout(r, 20));
  await killer\`select pg_terminate_backend(\${pid})\`;
  console.error('transaction:', (await tx.catch((e) => e)).code);
  await new Promise((r) => setTimeout(r, 500));
  await killer.end();
  console.error('still running');
  process.exit(0);
`;

describe("dev's uncaught exceptions", () => {
  it('handled, a transaction whose connection closed under it is a warning at most and the process carries on: no null-socket TypeError (infra/patch-postgres-driver.mjs)', async () => {
    // Before the driver patch this threw TypeError: Cannot read properties of null (reading 'write'), which the handler does not pass over (exit 1).
    const { code, output } = await node(closedUnderTransaction(`handleUncaughtExceptions('probe', log);`));
    expect(code, output).toBe(0);
    expect(output).toContain('transaction: CONNECTION_CLOSED');
    expect(output).not.toContain('TypeError');
    expect(output).toContain('still running');
  });

  it('handled, a connection reset on a socket with no error listener is a warning too', async () => {
    const { code, output } = await node(`
      import { connect, createServer } from 'node:net';
      import pino from 'pino';
      import { handleUncaughtExceptions } from './workers/fatal.ts';
      handleUncaughtExceptions('probe', pino({ base: null }, pino.destination(2)));
      // The server resets the connection once the client has used it: the client's next read fails.
      const server = createServer((s) => s.once('data', () => s.resetAndDestroy())).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const socket = connect(server.address().port, '127.0.0.1', () => socket.write('hello'));
      socket.on('close', () => setTimeout(() => { console.error('still running'); process.exit(0); }, 200));
    `);
    expect(code, output).toBe(0);
    expect(output).toContain('read ECONNRESET');
    expect(output).toContain('a connection was dropped under work in progress');
    expect(output).toContain('still running');
  });

  /** A reconnect refused by a server that has gone: an uncaught `connect ECONNREFUSED` on a socket with no error listener. */
  const refusedReconnect = (stopping: boolean) =>
    node(`
      import { connect, createServer } from 'node:net';
      import pino from 'pino';
      import { handleUncaughtExceptions } from './workers/fatal.ts';
      handleUncaughtExceptions('probe', pino({ base: null }, pino.destination(2)), () => ${stopping});
      // A port that was just listening and is closed: nothing answers there any more.
      const server = createServer().listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address();
      await new Promise((r) => server.close(r));
      const socket = connect(port, '127.0.0.1');
      socket.on('close', () => setTimeout(() => { console.error('still running'); process.exit(0); }, 200));
    `);

  it('handled while stopping, a reconnect refused by a server that has gone is a warning too', async () => {
    const { code, output } = await refusedReconnect(true);
    expect(code, output).toBe(0);
    expect(output).toContain('connect ECONNREFUSED');
    expect(output).toContain('a connection was dropped under work in progress');
    expect(output).toContain('still running');
  });

  it('not stopping, an uncaught refused connection is a bug like any other: exit 1', async () => {
    const { code, output } = await refusedReconnect(false);
    expect(code, output).toBe(1);
    expect(output).toContain('probe: uncaught exception\nError: connect ECONNREFUSED');
    expect(output).not.toContain('still running');
  });

  it('handled, a query nobody awaits that fails because its server went away is a warning too', async () => {
    const { code, output } = await node(`
      import pino from 'pino';
      import postgres from 'postgres';
      import { handleUncaughtExceptions } from './workers/fatal.ts';
      handleUncaughtExceptions('probe', pino({ base: null }, pino.destination(2)));
      const sql = postgres(process.env.PG_URL, { max: 1, onnotice: () => undefined });
      const killer = postgres(process.env.PG_URL, { max: 1 });
      const pid = (await sql\`select pg_backend_pid() as pid\`)[0].pid;
      // Started, and its failure left unhandled.
      void sql\`select pg_sleep(10)\`.then(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      await killer\`select pg_terminate_backend(\${pid})\`;
      await new Promise((r) => setTimeout(r, 500));
      await killer.end();
      console.error('still running');
      process.exit(0);
    `);
    expect(code, output).toBe(0);
    expect(output).toMatch(/terminating connection due to administrator command|CONNECTION_CLOSED/);
    expect(output).toContain('a connection was dropped under work in progress');
    expect(output).toContain('still running');
  });

  it('any other uncaught exception still exits 1, naming what failed and the error', async () => {
    const { code, output } = await node(`
      import pino from 'pino';
      import { handleUncaughtExceptions } from './workers/fatal.ts';
      handleUncaughtExceptions('probe', pino({ base: null }, pino.destination(2)));
      setImmediate(() => { throw new TypeError('something else'); });
      setTimeout(() => console.error('still running'), 500);
    `);
    expect(code, output).toBe(1);
    expect(output).toContain('probe: uncaught exception\nTypeError: something else');
    expect(output).not.toContain('still running');
  });
});
