/**
 * `GET /healthz` is what orchestrators probe: 200 once Postgres and Temporal
 * answer, else 503 naming what is down. An API process here runs on a Postgres
 * and a Temporal dev server of its own, each stopped mid-test and started
 * again on the same port: the answer names the one that is gone, and turns
 * 200 again once it is back, without restarting the API.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/http.js';
import { freePort } from '../../infra/ports.js';
import { ensureDatabase, startEmbeddedPostgres, type PostgresServer } from '../../infra/postgres-server.js';
import { startTemporalDevServer, type TemporalServer } from '../../infra/temporal-server.js';
import { startApiProcess, type ApiProcess } from '../../infra/worker-process.js';

interface Health {
  status: number;
  body: { status: string; postgres: string; temporal: string };
}

describe('/healthz', () => {
  let scratch: string;
  let pgPort: number;
  let temporalPort: number;
  let pg: PostgresServer | undefined;
  let temporal: TemporalServer | undefined;
  let api: ApiProcess | undefined;
  let password: string;
  const log = () => undefined;

  // Persistent, so that stopping it and starting it again is the same database on the same port.
  const startPostgres = () => startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), persistent: true, port: pgPort, log });
  const startTemporal = () => startTemporalDevServer({ binary: inject('infra').temporalCli, port: temporalPort, ui: false, log });
  const health = async (): Promise<Health> => {
    const res = await fetch(`${api!.url}/healthz`);
    return { status: res.status, body: (await res.json()) as Health['body'] };
  };
  /** Probes until the answer has `status`, and returns it. */
  const healthWhen = (status: number) =>
    waitFor(
      `/healthz ${status}`,
      async () => {
        const h = await health();
        return h.status === status ? h : undefined;
      },
      60_000,
      100,
    );

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'lakesync-health-'));
    // Postgres runs as its own OS user when we are root: it must reach its data dir.
    await chmod(scratch, 0o755);
    [pgPort, temporalPort] = [await freePort(), await freePort()];
    [pg, temporal] = await Promise.all([startPostgres(), startTemporal()]);
    await ensureDatabase(pg.url, 'lakesync');
    password = decodeURIComponent(new URL(pg.url).password);
    api = await startApiProcess({
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: pg.urlFor('lakesync'),
      TEMPORAL_ADDRESS: temporal.address,
      LAKESYNC_SECRET_KEY: randomBytes(32).toString('base64'),
      LAKESYNC_AUTH_SECRET: randomBytes(32).toString('base64url'),
    });
  });
  afterAll(async () => {
    await api?.kill('SIGKILL');
    await Promise.allSettled([pg?.stop(), temporal?.stop()]);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('answers 200 with both dependencies up', async () => {
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', postgres: 'ok', temporal: 'ok', vectorIndex: 'exact' } });
  });

  it('answers 503 naming Postgres while it is down, and 200 again once it is back', async () => {
    await pg!.stop();
    pg = undefined;
    const down = await healthWhen(503);
    expect(down.body).toMatchObject({ status: 'unavailable', temporal: 'ok' });
    expect(down.body.postgres).not.toBe('ok');
    expect(down.body.postgres.length).toBeGreaterThan(0);
    // What is down is named, never the credentials it is reached with.
    expect(JSON.stringify(down.body)).not.toContain(password);

    pg = await startPostgres();
    expect(await healthWhen(200)).toEqual({ status: 200, body: { status: 'ok', postgres: 'ok', temporal: 'ok', vectorIndex: 'exact' } });
    expect(api!.child.exitCode).toBeNull();
  });

  it('answers 503 naming Temporal while it is down, and 200 again once it is back', async () => {
    await temporal!.stop();
    temporal = undefined;
    const down = await healthWhen(503);
    expect(down.body).toMatchObject({ status: 'unavailable', postgres: 'ok' });
    expect(down.body.temporal).not.toBe('ok');
    expect(down.body.temporal.length).toBeGreaterThan(0);

    temporal = await startTemporal();
    expect(await healthWhen(200)).toEqual({ status: 200, body: { status: 'ok', postgres: 'ok', temporal: 'ok', vectorIndex: 'exact' } });
    expect(api!.child.exitCode).toBeNull();
  });

  it('answers 503 naming both when both are down', async () => {
    await Promise.all([pg!.stop(), temporal!.stop()]);
    [pg, temporal] = [undefined, undefined];
    const down = await healthWhen(503);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.postgres).not.toBe('ok');
    expect(down.body.temporal).not.toBe('ok');
  });
});
