import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import type { Client } from '@temporalio/client';
import { recordEvents } from '../catalog/index.js';
import type { SourceRow } from '../db/schema.js';
import type { Db } from '../db/client.js';
import { keyFilter } from '../domain/filters.js';
import type { FsAccess } from '../domain/fs-roots.js';
import { kindedConnection } from '../domain/source-kinds.js';
import { objectsChangedSignal } from '../workflows/shared.js';
import { wakeControllerSoon } from '../api/wake-controller.js';
import type { SourceFollower } from './source-leases.js';

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
 * Filesystem sources with `notifications.mode = watch`, on the worker that
 * holds their lease (workers/source-leases.ts): changed paths become
 * source_events, and the controller is woken for a targeted run, as the S3
 * webhook does; the scheduled scan catches what a watcher missed (events
 * while no worker held the lease, inotify queue overflows).
 */
export class SourceWatchers implements SourceFollower {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly deps: SourceWatcherDeps) {}

  following(): Iterable<string> {
    return this.watched.keys();
  }

  async follow(source: SourceRow, bucketName: string): Promise<void> {
    const path = await this.rootOf(source);
    const current = this.watched.get(source.id);
    if (current && current.path === path && current.version === source.updatedAt.getTime()) return;
    if (current) await this.unfollow(source.id);
    if (path) this.watch(source, bucketName, path);
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
      // Only this watcher: the next tick may already have set up a newer one.
      if (this.watched.get(source.id) === w) void this.unfollow(source.id);
    });
    this.watched.set(source.id, w);
    this.deps.log.info({ sourceId: source.id }, 'watching filesystem source');
  }

  async unfollow(sourceId: string): Promise<void> {
    const w = this.watched.get(sourceId);
    if (!w) return;
    this.watched.delete(sourceId);
    if (w.flush) clearTimeout(w.flush);
    w.watcher.close();
    this.deps.log.info({ sourceId }, 'stopped watching filesystem source');
  }
}
