import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { errorMessage } from '../domain/error-text.js';

/**
 * The kernel hands out ports from its ephemeral range to every outgoing
 * connection, so a port picked there and released can be taken by a client
 * socket before the server we start binds it. Ports are therefore drawn below
 * that range, at random so parallel test files rarely draw the same one.
 */
function portPool(): { low: number; high: number } {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 12_000) return { low: 10_000, high: low - 1 };
  } catch {
    // Not Linux: fall back to the IANA dynamic range's complement below.
  }
  return { low: 20_000, high: 32_767 };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  const { low, high } = portPool();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

/**
 * The port to try on a server's `attempt`: a conventional one (Temporal's
 * 7233) first when it is free at this moment, else a drawn one. Only the
 * server's own bind decides: when it loses the port anyway, withFreshPorts
 * calls again and a later attempt draws.
 */
export async function preferredPort(preferred: number | undefined, attempt: number): Promise<number> {
  if (preferred !== undefined && attempt === 1 && (await canBind(preferred))) return preferred;
  return freePort();
}

/** True when a server failed to start because a port it was given was taken meanwhile. */
function isPortTaken(err: unknown): boolean {
  return /address already in use|EADDRINUSE/i.test(errorMessage(err));
}

/**
 * Starts a server on freshly drawn ports, drawing again when one was taken
 * between the draw and the bind (another process can always get there first).
 */
export async function withFreshPorts<T>(start: (attempt: number) => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(attempt);
    } catch (err) {
      if (attempt >= attempts || !isPortTaken(err)) throw err;
    }
  }
}

/** Thrown by a probe when waiting longer cannot help (the server process has exited). */
export class GaveUp extends Error {}

/** Polls `probe` until it succeeds, throws GaveUp, or `timeoutMs` passes, rethrowing the last error. */
export async function waitUntil(what: string, probe: () => Promise<unknown>, timeoutMs: number, onTick?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    onTick?.();
    try {
      await probe();
      return;
    } catch (err) {
      if (err instanceof GaveUp) throw err;
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms: ${String(lastError)}`);
}
