import { Router } from 'express';
import { sql } from 'drizzle-orm';
import type { ApiDeps } from '../deps.js';

/** 200 only when Postgres and Temporal both answer; 503 names what is down. */
export function healthRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.get('/healthz', async (_req, res) => {
    const checks = await Promise.all([
      deps.db.execute(sql`select 1`).then(() => 'ok', (e: Error) => e.message),
      deps.temporal.workflowService.getSystemInfo({}).then(() => 'ok', (e: Error) => e.message),
    ]);
    const [postgres, temporal] = checks;
    const ok = checks.every((c) => c === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal });
  });
  return r;
}
