import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, preferredPort, withFreshPorts } from '../../infra/ports.js';

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });

describe('ports for the servers tests and dev start', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('draws ports below the kernel ephemeral range, so no client socket can hold one', async () => {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) expect(port).toBeLessThan(low!);
    servers.push(...(await Promise.all(ports.slice(0, 3).map(listen))));
  });

  it('draws again when a drawn port is taken before the server binds it, and gives up on other errors', async () => {
    const taken = await freePort();
    servers.push(await listen(taken));
    const tried: number[] = [];
    const server = await withFreshPorts(async () => {
      const port = tried.length === 0 ? taken : await freePort();
      tried.push(port);
      return listen(port);
    });
    servers.push(server);
    expect(tried[0]).toBe(taken);
    expect(tried).toHaveLength(2);
    let calls = 0;
    await expect(
      withFreshPorts(async () => {
        calls++;
        throw new Error('bad flag');
      }),
    ).rejects.toThrow('bad flag');
    expect(calls).toBe(1);
  });

  it('tries a conventional port first when it is free, draws one when it is taken, and draws on every retry', async () => {
    const conventional = await freePort();
    expect(await preferredPort(conventional, 1)).toBe(conventional);
    expect(await preferredPort(conventional, 2)).not.toBe(conventional);
    servers.push(await listen(conventional));
    const drawn = await preferredPort(conventional, 1);
    expect(drawn).not.toBe(conventional);
    servers.push(await listen(drawn));
  });
});
