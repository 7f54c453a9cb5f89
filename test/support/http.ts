import { expect } from 'vitest';
export interface JsonResponse<T = any> {
  status: number;
  body: T;
}

const defaultTokens = new Map<string, string>();

/** Calls to `base` carry this bearer token unless they pass their own Authorization header. */
export function setDefaultToken(base: string, token: string): void {
  defaultTokens.set(base, token);
}

export function authHeader(base: string): Record<string, string> {
  const token = defaultTokens.get(base);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A JSON call against the API under test. */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(base + path, {
    method,
    headers: { ...authHeader(base), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 120_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Polls GetSyncStatus until `jobId` is the source's last finished job, and returns that status. */
export async function waitForJob(base: string, bucket: string, sourceId: string, jobId: string, timeoutMs = 240_000) {
  await waitFor(
    `job ${jobId}`,
    async () => {
      const s = await call(base, 'GET', `/${bucket}/sources/${sourceId}/sync`);
      return s.body.lastJobId === jobId;
    },
    timeoutMs,
  );
  const job = await call(base, 'GET', `/${bucket}/jobs/${jobId}`);
  const sync = await call(base, 'GET', `/${bucket}/sources/${sourceId}/sync`);
  return { job: job.body, sync: sync.body };
}

/** A job as GET /:bucket/jobs lists it, the fields the change-notification tests read. */
export interface JobView {
  jobId: string;
  trigger: string;
  kind: string;
  status: string;
  objectsDiscovered: number;
  objectsProcessed: number;
  objectsDeleted: number;
  objectsRemoved: number;
}

/** Longer than api/wake-controller.ts's widest spacing (1.6 s) plus the time a wake-up takes to queue its job, with room. */
const WAKE_SETTLE_MS = 3000;

/**
 * A probe for waitFor: a source's runs once settled, none pending or running
 * and the same for WAKE_SETTLE_MS. Settled at one instant is not enough: a
 * wake-up for events a finished run already took may still be on its way, and
 * starts one more (empty) run after it.
 */
export function settledRuns(jobs: () => Promise<JobView[]>): () => Promise<JobView[] | false> {
  let seen: { text: string; at: number } | null = null;
  return async () => {
    const now = await jobs();
    if (!now.every((j) => j.status !== 'JOB_STATUS_RUNNING' && j.status !== 'JOB_STATUS_PENDING')) {
      seen = null;
      return false;
    }
    const text = JSON.stringify(now.map((j) => [j.jobId, j.status]));
    if (seen?.text !== text) seen = { text, at: Date.now() };
    return Date.now() - seen.at >= WAKE_SETTLE_MS && now;
  };
}

/**
 * A burst of `objects` change events became a few event runs, not one per
 * event (each run takes every event waiting when it starts), every one
 * succeeded, and together they counted each object exactly once.
 */
export function expectCoalescedEventRuns(runs: JobView[], objects: number): void {
  // The runs that are not succeeded event runs, shown whole when there are any.
  expect(runs.filter((j) => j.trigger !== 'event' || j.status !== 'JOB_STATUS_SUCCEEDED')).toEqual([]);
  expect(runs.length).toBeGreaterThan(0);
  expect(runs.length).toBeLessThan(40);
  expect(runs.reduce((n, j) => n + j.objectsDiscovered, 0)).toBe(objects);
  expect(runs.reduce((n, j) => n + j.objectsProcessed, 0)).toBe(objects);
}
