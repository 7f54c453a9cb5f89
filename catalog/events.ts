import type { ISql } from 'postgres';
import { storedSequencer } from '../domain/notifications.js';
import { lit, OBJECT_STATUS as S } from './status.js';

/**
 * Change notifications waiting for a targeted run (`source_events`): one row
 * per source and key. An event for a key already waiting bumps its `rev` and
 * keeps the newest sequencer; one older than the row's sequencer changes
 * nothing, so a late duplicate never makes the row look newer.
 */

export interface ChangedKey {
  /** Relative to the source's prefix or root. */
  key: string;
  /** The S3 sequencer (hex), or null where the notifier has none (a watcher). */
  sequencer: string | null;
}

/** Records the events; returns how many rows they created or moved. */
export async function recordEvents(sql: ISql, sourceId: string, events: readonly ChangedKey[]): Promise<number> {
  if (events.length === 0) return 0;
  // One row per key, the newest sequencer first: a batch that names a key twice must not conflict with itself.
  const byKey = new Map<string, string | null>();
  for (const e of events) {
    const seq = storedSequencer(e.sequencer);
    const prev = byKey.get(e.key);
    if (prev === undefined || (seq !== null && (prev === null || seq > prev))) byKey.set(e.key, seq);
  }
  const rows = JSON.stringify([...byKey].map(([key, sequencer]) => ({ key, sequencer })));
  const res = await sql`
    insert into source_events as e (source_id, key, sequencer)
    select ${sourceId}, t.key, t.sequencer from jsonb_to_recordset(${rows}::jsonb) as t(key text, sequencer text)
    on conflict (source_id, key) do update set
      sequencer = greatest(e.sequencer, excluded.sequencer), rev = e.rev + 1, received_at = now()
    where e.sequencer is null or excluded.sequencer is null or excluded.sequencer > e.sequencer`;
  return res.count;
}

export interface WaitingEvent {
  key: string;
  rev: number;
}

/** The next waiting events of a source, in key order. */
export async function waitingEvents(sql: ISql, sourceId: string, limit: number): Promise<WaitingEvent[]> {
  return sql<WaitingEvent[]>`select key, rev from source_events where source_id = ${sourceId} order by key limit ${limit}`;
}

/** Removes the events a run applied, each only if no newer event landed on it since it was read. */
export async function consumeEvents(sql: ISql, sourceId: string, taken: readonly WaitingEvent[]): Promise<void> {
  if (taken.length === 0) return;
  await sql`
    delete from source_events e using jsonb_to_recordset(${JSON.stringify(taken)}::jsonb) as t(key text, rev int)
    where e.source_id = ${sourceId} and e.key = t.key collate "C" and e.rev = t.rev`;
}

/** Sources with events waiting: the periodic check wakes their controllers should a wake-up have been lost. */
export async function sourcesWithEvents(sql: ISql): Promise<string[]> {
  const rows = await sql<{ source_id: string }[]>`select distinct source_id from source_events`;
  return rows.map((r) => r.source_id);
}

/** The catalog rows of keys a targeted run found gone at the source: what to sweep (and, `stored`, remove from the lake). */
export async function objectsAtKeys(sql: ISql, sourceId: string, keys: readonly string[]): Promise<{ id: string; lakeKey: string | null; stored: boolean }[]> {
  if (keys.length === 0) return [];
  const rows = await sql<{ id: string; lake_key: string | null; status: string }[]>`
    select id, lake_key, status from source_objects
    where source_id = ${sourceId} and status <> ${lit(sql, S.deleted)}
      and key in (select value collate "C" from jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))`;
  return rows.map((r) => ({ id: r.id, lakeKey: r.lake_key, stored: r.status === S.ingested && r.lake_key !== null }));
}
