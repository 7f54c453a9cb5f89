import type { Router } from 'express';
import { sql } from 'drizzle-orm';
import type { ApiDeps } from '../deps.js';
import { defineRoutes, routesOf } from '../route.js';
import { Health } from '../contract/health.js';

/**
 * How long a dependency has to answer. The Temporal client retries an
 * unreachable server for ~20 s, and Postgres may take its 30 s connect
 * timeout: a probe (compose's times out after 5 s) would see a timeout
 * instead of the 503 that names what is down.
 */
const CHECK_MS = 3000;

/** 'ok', or why the dependency did not answer. */
async function check(run: (signal: AbortSignal) => Promise<unknown>): Promise<string> {
  const signal = AbortSignal.timeout(CHECK_MS);
  const late = new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve(`no answer within ${CHECK_MS / 1000} s`), { once: true }));
  // drizzle wraps the driver's error in "Failed query: …": the cause says what happened (ECONNREFUSED, …).
  const why = (e: Error) => (e.cause instanceof Error ? e.cause.message : e.message);
  return Promise.race([run(signal).then(() => 'ok', why), late]);
}

export const HEALTH_ROUTES = defineRoutes({
  health: {
    method: 'get',
    route: '/healthz',
    summary: 'Health of the API, Postgres and Temporal',
    scope: null,
    responses: { 200: { body: Health }, 503: { description: 'Postgres or Temporal did not answer', body: Health } },
  },
});

/** 200 only when Postgres and Temporal both answer; 503 names what is down. */
export function healthRoutes(deps: ApiDeps): Router {
  const r = routesOf(HEALTH_ROUTES);
  r.on('health', async (_req, res) => {
    const checks = await Promise.all([
      check(() => deps.db.execute(sql`select 1`)),
      check((signal) => deps.temporal.connection.withAbortSignal(signal, () => deps.temporal.workflowService.getSystemInfo({}))),
    ]);
    const [postgres, temporal] = checks;
    const ok = checks.every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal, vectorIndex: deps.vectorIndex ?? 'exact' });
  });
  return r.router();
}
