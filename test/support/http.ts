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
