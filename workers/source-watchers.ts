import { watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { and, eq, ne, sql as dsql } from 'drizzle-orm';
import { SOURCE_STATUS } from '../domain/statuses.js';
import type { Logger } from 'pino';
import type { Client } from '@temporalio/client';
import { recordEvents } from '../catalog/index.js';
import { buckets, sources, type SourceRow } from '../db/schema.js';
import type { Db } from '../db/client.js';
import { keyFilter } from '../domain/filters.js';
import type { FsAccess } from '../domain/fs-roots.js';
import { kindedConnection } from '../domain/source-kinds.js';
import { objectsChangedSignal } from '../workflows/shared.js';
import { wakeControllerSoon } from '../api/wake-controller.js';

/** How often a worker looks for sources to watch and renews its leases; a lease outlives three missed renewals. */
const TICK_MS = 5_000;
const LEASE_SECONDS = 20;
/** Changes are gathered this long before they are recorded: an editor's save is several events for one key. */
const FLUSH_MS = 100;

interface Watched {
  watcher: FSWatcher;
  path: string;
  /** The settings it watches with (the filters): a PATCH sets it up again. */
  version: number;
  changed: Set<string>;
  flush: NodeJS.Timeout | null;
}

export interface SourceWatcherDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  fsAccess: FsAccess;
  log: Logger;
}

/**
 * Filesystem sources with `notifications.mode = watch`: each is watched by
 * one worker, the holder of its lease row (`source_watch_leases`), renewed
 * every tick. A worker that dies leaves its lease to expire, and whichever
 * worker ticks next (the same one restarted, or another) takes the source
 * over; a source deleted, paused or suspended, or switched to another mode
 * is let go at the next tick. Changed paths become source_events, and the
 * controller is woken for a targeted run, as the S3 webhook does; the
 * scheduled scan catches what a watcher missed (events while no worker held
 * the lease, inotify queue overflows).
 */
export class SourceWatchers {
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SourceWatcherDeps) {}

  start(): void {
    let running = false;
    // A tick slower than TICK_MS (a slow database, a hung directory check) must not overlap the next: two
    // ticks could both find a source unwatched and open two watchers, one of them never closed.
    const tick = () => {
      if (running) return;
      running = true;
      this.ticking = this.tick()
        .catch((err: unknown) => this.deps.log.warn({ err }, 'source watchers: tick failed'))
        .finally(() => (running = false));
    };
    tick();
    this.timer = setInterval(tick, TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const id of [...this.watched.keys()]) await this.unwatch(id);
    // Handed back at once, so another worker need not wait for the leases to expire.
    await this.deps.db.execute(dsql`delete from source_watch_leases where owner = ${this.owner}`).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const rows = await this.deps.db
      .select({ source: sources, bucketName: buckets.name })
      .from(sources)
      .innerJoin(buckets, eq(buckets.id, sources.bucketId))
      .where(
        and(
          eq(sources.kind, 'filesystem'),
          eq(sources.paused, false),
          // A suspended source takes no runs until resumed: its changes would only pile up.
          ne(sources.status, SOURCE_STATUS.suspended),
          dsql`${sources.notifications}->>'mode' = 'watch'`,
        ),
      );
    const wanted = new Map(rows.map((r) => [r.source.id, r]));
    for (const id of [...this.watched.keys()]) if (!wanted.has(id)) await this.unwatch(id, true);
    if (rows.length === 0) return;
    // Takes or renews the lease of every wanted source that is free, expired or already ours.
    const ids = JSON.stringify([...wanted.keys()]);
    const held = await this.deps.db.$client<{ source_id: string }[]>`
      insert into source_watch_leases as l (source_id, owner, expires_at)
      select value, ${this.owner}, now() + make_interval(secs => ${LEASE_SECONDS}) from jsonb_array_elements_text(${ids}::jsonb)
      on conflict (source_id) do update set owner = excluded.owner, expires_at = excluded.expires_at
      where l.owner = excluded.owner or l.expires_at < now()
      returning source_id`;
    const ours = new Set(held.map((h) => h.source_id));
    for (const id of [...this.watched.keys()]) if (!ours.has(id)) await this.unwatch(id);
    for (const id of ours) {
      const row = wanted.get(id)!;
      const path = await this.rootOf(row.source);
      const current = this.watched.get(id);
      if (current && current.path === path && current.version === row.source.updatedAt.getTime()) continue;
      if (current) await this.unwatch(id);
      if (path) this.watch(row.source, row.bucketName, path);
    }
  }

  /** The real directory the source reads, checked as its reader checks it; null when refused or gone (the scan reports why). */
  private async rootOf(source: SourceRow): Promise<string | null> {
    const c = kindedConnection(source.connection);
    if (c.kind !== 'filesystem') return null;
    const checked = await this.deps.fsAccess.checkSourceDir(c.settings.path);
    return 'real' in checked ? checked.real : null;
  }

  private watch(source: SourceRow, bucketName: string, path: string): void {
    const passes = keyFilter(source.filters);
    let watcher: FSWatcher;
    try {
      watcher = watch(path, { recursive: true, encoding: 'utf8' });
    } catch (err) {
      this.deps.log.warn({ err, sourceId: source.id }, 'source watcher could not start; tried again at the next tick');
      return;
    }
    const earlier = this.watched.get(source.id);
    if (earlier) {
      if (earlier.flush) clearTimeout(earlier.flush);
      earlier.watcher.close();
    }
    const w: Watched = { watcher, path, version: source.updatedAt.getTime(), changed: new Set(), flush: null };
    const flush = () => {
      w.flush = null;
      const keys = [...w.changed].filter(passes);
      w.changed.clear();
      if (keys.length === 0) return;
      recordEvents(
        this.deps.db.$client,
        source.id,
        keys.map((key) => ({ key, sequencer: null })),
      ).then(
        (moved) => void (moved > 0 && wakeControllerSoon(this.deps, source, bucketName, objectsChangedSignal)),
        (err: unknown) => this.deps.log.warn({ err, sourceId: source.id }, 'source watcher: could not record changes; the next scan will find them'),
      );
    };
    w.watcher.on('change', (_event, filename) => {
      if (typeof filename !== 'string' || filename === '') return;
      // Linux reports paths with '/': a backslash is part of a file's name.
      w.changed.add(filename);
      w.flush ??= setTimeout(flush, FLUSH_MS);
    });
    w.watcher.on('error', (err) => {
      this.deps.log.warn({ err, sourceId: source.id }, 'source watcher failed; it is set up again at the next tick');
      void this.unwatch(source.id, true);
    });
    this.watched.set(source.id, w);
    this.deps.log.info({ sourceId: source.id }, 'watching filesystem source');
  }

  private async unwatch(sourceId: string, release = false): Promise<void> {
    const w = this.watched.get(sourceId);
    if (!w) return;
    this.watched.delete(sourceId);
    if (w.flush) clearTimeout(w.flush);
    w.watcher.close();
    this.deps.log.info({ sourceId }, 'stopped watching filesystem source');
    if (release) await this.deps.db.$client`delete from source_watch_leases where source_id = ${sourceId} and owner = ${this.owner}`.catch(() => undefined);
  }
}
