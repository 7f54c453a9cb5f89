import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { and, eq, inArray, ne, sql as dsql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { buckets, sources, type SourceRow } from '../db/schema.js';
import type { Db } from '../db/client.js';
import type { NotificationMode } from '../domain/notifications.js';
import { SOURCE_STATUS } from '../domain/statuses.js';

/** How often a worker looks for sources to follow and renews its leases; a lease outlives three missed renewals. */
const TICK_MS = 5_000;
const LEASE_SECONDS = 20;

/** The notification modes a worker carries out itself (a watcher, a queue poller); the webhook needs none. */
export type FollowedMode = Extract<NotificationMode, 'watch' | 'sqs'>;

/** What follows one mode's sources: sets a source up, keeps it current, lets it go. */
export interface SourceFollower {
  /** Follows the source, or follows it anew when what it follows with changed; called every tick while the lease is ours. */
  follow(source: SourceRow, bucketName: string): Promise<void>;
  /** Stops following it (a no-op for a source it does not follow). */
  unfollow(sourceId: string): Promise<void>;
  /** The sources it follows now. */
  following(): Iterable<string>;
}

/**
 * Sources whose notifications a worker carries out (`watch`, `sqs`): each is
 * followed by one worker, the holder of its lease row (`source_watch_leases`),
 * renewed every tick. A worker that dies leaves its lease to expire, and
 * whichever worker ticks next (the same one restarted, or another) takes the
 * source over; a source deleted, paused or suspended, or switched to another
 * mode is let go at the next tick. What a follower hears becomes
 * source_events; the scheduled scan catches what no follower heard (changes
 * while no worker held the lease).
 */
export class SourceLeases {
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { db: Db; log: Logger },
    private readonly followers: { [M in FollowedMode]: SourceFollower },
  ) {}

  start(): void {
    let running = false;
    // A tick slower than TICK_MS (a slow database, a hung directory check) must not overlap the next: two
    // ticks could both find a source unfollowed and set up two followers, one of them never stopped.
    const tick = () => {
      if (running) return;
      running = true;
      this.ticking = this.tick()
        .catch((err: unknown) => this.deps.log.warn({ err }, 'source followers: tick failed'))
        .finally(() => (running = false));
    };
    tick();
    this.timer = setInterval(tick, TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const f of Object.values(this.followers)) for (const id of [...f.following()]) await f.unfollow(id);
    // Handed back at once, so another worker need not wait for the leases to expire.
    await this.deps.db.execute(dsql`delete from source_watch_leases where owner = ${this.owner}`).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const modes = Object.keys(this.followers) as FollowedMode[];
    const rows = await this.deps.db
      .select({ source: sources, bucketName: buckets.name })
      .from(sources)
      .innerJoin(buckets, eq(buckets.id, sources.bucketId))
      .where(
        and(
          eq(sources.paused, false),
          // A suspended source takes no runs until resumed: its changes would only pile up.
          ne(sources.status, SOURCE_STATUS.suspended),
          inArray(dsql<string>`${sources.notifications}->>'mode'`, modes),
        ),
      );
    const wanted = new Map(rows.map((r) => [r.source.id, r]));
    // A source no longer wanted, or wanted by another mode, is let go by the follower that has it.
    for (const mode of modes)
      for (const id of [...this.followers[mode].following()]) if (wanted.get(id)?.source.notifications.mode !== mode) await this.let(mode, id, true);
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
    for (const mode of modes) for (const id of [...this.followers[mode].following()]) if (!ours.has(id)) await this.let(mode, id, false);
    for (const id of ours) {
      const row = wanted.get(id)!;
      // One source that cannot be followed (a directory gone, a bad queue URL) must not hold up the others.
      await this.followers[row.source.notifications.mode as FollowedMode]
        .follow(row.source, row.bucketName)
        .catch((err: unknown) => this.deps.log.warn({ err, sourceId: id }, 'could not follow the source; tried again at the next tick'));
    }
  }

  /** Stops following a source; `release` hands its lease back (it is no longer wanted), else another worker holds it. */
  private async let(mode: FollowedMode, sourceId: string, release: boolean): Promise<void> {
    await this.followers[mode].unfollow(sourceId);
    if (release) await this.deps.db.$client`delete from source_watch_leases where source_id = ${sourceId} and owner = ${this.owner}`.catch(() => undefined);
  }
}
