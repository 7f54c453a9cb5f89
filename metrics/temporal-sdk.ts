/**
 * The Temporal SDK's own worker metrics (temporal_request, temporal_activity_execution_latency,
 * temporal_worker_task_slots_used, …) on the same endpoint as lakesync's: Core
 * records them into a MetricsBuffer (Runtime telemetryOptions.metrics.buffer)
 * and this bridge replays each update into prom-client, which renders them.
 */
import { MetricsBuffer, type BufferedMetricUpdate } from '@temporalio/worker';
import { Counter, Gauge, Histogram } from 'prom-client';
import { SECONDS_BUCKETS, onScrape, workerRegistry } from './registry.js';

type Bridged = { kind: 'counter'; m: Counter } | { kind: 'gauge'; m: Gauge } | { kind: 'up-down-counter'; m: Gauge } | { kind: 'histogram'; m: Histogram };

/**
 * prom-client fixes a metric's label names when it is created, but Core
 * emits some metrics with more than one label set (temporal_request with and
 * without `namespace`). Every label Core is known to use is declared up front;
 * a label outside this list and the first update's is dropped rather than
 * failing the scrape.
 */
const CORE_LABELS = [
  'namespace',
  'task_queue',
  'workflow_type',
  'activity_type',
  'operation',
  'poller_type',
  'worker_type',
  'eager',
  'service_name',
  'status_code',
  'failure_reason',
  'query_type',
  'signal_name',
  'update_name',
  'nexus_service',
  'nexus_operation',
  'slot_type',
];

export interface TemporalMetricsBridge {
  buffer: MetricsBuffer;
  /** Replays what Core has recorded since the last drain. */
  drain(): void;
  stop(): void;
}

export function temporalMetricsBridge(): TemporalMetricsBridge {
  const buffer = new MetricsBuffer({ maxBufferSize: 100_000, useSecondsForDurations: true });
  const metrics = new Map<string, { bridged: Bridged; labels: Set<string> }>();

  const create = (u: BufferedMetricUpdate) => {
    const labelNames = [...new Set([...CORE_LABELS, ...Object.keys(u.attributes)])];
    const help = u.metric.description || `Temporal SDK metric ${u.metric.name}${u.metric.unit ? ` (${u.metric.unit})` : ''}`;
    const common = { name: u.metric.name, help, labelNames, registers: [workerRegistry] };
    const bridged: Bridged =
      u.metric.kind === 'counter'
        ? { kind: 'counter', m: new Counter(common) }
        : u.metric.kind === 'histogram'
          ? {
              kind: 'histogram',
              m: new Histogram({ ...common, buckets: u.metric.unit === 's' ? SECONDS_BUCKETS : [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000] }),
            }
          : { kind: u.metric.kind, m: new Gauge(common) };
    const entry = { bridged, labels: new Set(labelNames) };
    metrics.set(u.metric.name, entry);
    return entry;
  };

  const drain = () => {
    for (const u of buffer.retrieveUpdates()) {
      const { bridged, labels } = metrics.get(u.metric.name) ?? create(u);
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(u.attributes)) if (labels.has(k)) tags[k] = String(v);
      if (bridged.kind === 'counter') bridged.m.inc(tags, u.value);
      else if (bridged.kind === 'histogram') bridged.m.observe(tags, u.value);
      else if (bridged.kind === 'gauge') bridged.m.set(tags, u.value);
      else bridged.m.inc(tags, u.value);
    }
  };

  // Drained at every scrape, and every second so a quiet scraper never lets the buffer overflow.
  const removeHook = onScrape(drain);
  const timer = setInterval(drain, 1000);
  timer.unref();
  return {
    buffer,
    drain,
    stop: () => {
      clearInterval(timer);
      removeHook();
    },
  };
}
