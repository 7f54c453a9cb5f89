/**
 * Every metric lakesync exports, in one place, in two registries: the API's
 * (route patterns and counts; served without a token) and the worker's
 * (per-source counters, discovery lag, the Temporal SDK's; served on the
 * worker's loopback metrics endpoint). Kept apart so that a process that is
 * both (`npm run dev`, the tests) never shows source ids or bucket names on
 * the API's unauthenticated `GET /metrics`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const apiRegistry = new Registry();
export const workerRegistry = new Registry();
collectDefaultMetrics({ register: apiRegistry });
collectDefaultMetrics({ register: workerRegistry });

/** Seconds, from a fast API call to a long scan or a whole workflow. */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21_600];

// Worker outcomes (worker registry). Each moves only after the transaction that records the
// outcome has committed — never per attempt — so across all workers they sum
// to the database's counters exactly, however often a batch is retried.
const objectsSynced = new Counter({
  name: 'lakesync_objects_synced_total',
  help: 'Objects copied into the lake and recorded as ingested (the sources.totalObjectsSynced counter, per worker)',
  labelNames: ['source_id'] as const,
  registers: [workerRegistry],
});
const bytesSynced = new Counter({
  name: 'lakesync_bytes_synced_total',
  help: 'Bytes of the objects counted by lakesync_objects_synced_total',
  labelNames: ['source_id'] as const,
  registers: [workerRegistry],
});
const objectFailures = new Counter({
  name: 'lakesync_object_failures_total',
  help: 'Failed copy attempts recorded against an object (it is retried, and dead-lettered after the last attempt)',
  labelNames: ['source_id'] as const,
  registers: [workerRegistry],
});
const deadLetters = new Counter({
  name: 'lakesync_dead_letters_total',
  help: 'Objects dead-lettered after their last failed attempt (the sources.totalObjectsFailed counter, per worker)',
  labelNames: ['source_id'] as const,
  registers: [workerRegistry],
});
const keysListed = new Counter({
  name: 'lakesync_keys_listed_total',
  help: 'Keys listed from sources by discovery scans (a page re-listed after a crash counts again: it was listed again)',
  labelNames: ['source_id'] as const,
  registers: [workerRegistry],
});

const objectsProcessed = new Counter({
  name: 'lakesync_objects_processed_total',
  help: 'Stored objects whose pipelines finished (jobs.objectsProcessed, per worker); outcome="indexed" when every selected pipeline succeeded',
  labelNames: ['source_id', 'outcome'] as const,
  registers: [workerRegistry],
});

/** The hooks activities call, one line each, after the outcome is committed. */
export const recorded = {
  synced(sourceId: string, objects: number, bytes: number): void {
    if (objects === 0) return;
    objectsSynced.inc({ source_id: sourceId }, objects);
    bytesSynced.inc({ source_id: sourceId }, bytes);
  },
  /** A failed attempt was recorded; `attempts` is the object's count after it, undefined when nothing was recorded. */
  failure(sourceId: string, attempts: number | undefined, maxAttempts: number): void {
    if (attempts === undefined) return;
    objectFailures.inc({ source_id: sourceId });
    if (attempts >= maxAttempts) deadLetters.inc({ source_id: sourceId });
  },
  /** An object's pipeline outcomes were committed (null: another attempt had already recorded them). */
  processed(sourceId: string, indexed: boolean | null): void {
    if (indexed === null) return;
    objectsProcessed.inc({ source_id: sourceId, outcome: indexed ? 'indexed' : 'not_indexed' });
  },
  listed(sourceId: string, keys: number): void {
    keysListed.inc({ source_id: sourceId }, keys);
  },
};

export interface SourceLag {
  bucket: string;
  sourceId: string;
  seconds: number;
}

/** Where the lag gauge reads from: each worker runtime registers its database. */
const lagReaders = new Set<() => Promise<SourceLag[]>>();

/** Registers a reader for lakesync_discovery_lag_seconds; returns its removal. */
export function reportDiscoveryLag(read: () => Promise<SourceLag[]>): () => void {
  lagReaders.add(read);
  return () => void lagReaders.delete(read);
}

new Gauge({
  name: 'lakesync_discovery_lag_seconds',
  help: 'Per polled source: seconds since the start of its last successful discovery scan (since its creation when it has none): an upper bound on how stale the lake is',
  labelNames: ['bucket', 'source_id'] as const,
  registers: [workerRegistry],
  async collect() {
    this.reset();
    for (const read of lagReaders) for (const lag of await read()) this.set({ bucket: lag.bucket, source_id: lag.sourceId }, lag.seconds);
  },
});

// API: labels are route patterns, methods and statuses only.
export const httpRequests = new Counter({
  name: 'lakesync_http_requests_total',
  help: 'HTTP requests answered by the API, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [apiRegistry],
});
export const httpDuration = new Histogram({
  name: 'lakesync_http_request_duration_seconds',
  help: 'Time from an API request arriving to its response being sent',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: SECONDS_BUCKETS,
  registers: [apiRegistry],
});

/** Run before each worker scrape (e.g. draining the Temporal SDK's metric buffer). */
const beforeScrape = new Set<() => void>();

export function onScrape(hook: () => void): () => void {
  beforeScrape.add(hook);
  return () => void beforeScrape.delete(hook);
}

export interface Exposition {
  contentType: string;
  body: string;
}

/** The API's metrics in the Prometheus text format, as prom-client renders them. */
export async function scrapeApi(): Promise<Exposition> {
  return { contentType: apiRegistry.contentType, body: await apiRegistry.metrics() };
}

/** The worker's metrics (per source, per bucket, the SDK's) in the Prometheus text format. */
export async function scrapeWorker(): Promise<Exposition> {
  for (const hook of beforeScrape) hook();
  return { contentType: workerRegistry.contentType, body: await workerRegistry.metrics() };
}
