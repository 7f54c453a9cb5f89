/**
 * The controller's mirror of its state against the API's pause writes, on
 * the real Postgres: a snapshot the controller took before the API's pause
 * (or resume), landing after the API's write, must not undo it; the mirror of
 * the signal itself, and snapshots without a time (older controllers), write
 * as they always did.
 */
import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { sources } from '../../db/schema.js';
import { pausedSet, resumedSet } from '../../api/pause-state.js';
import { controllerStateActivities } from '../../activities/controller-state.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { SOURCE_STATUS } from '../../domain/statuses.js';
import { unique } from '../support/lakesync.js';

let db: Db;
let record: ReturnType<typeof controllerStateActivities>['recordControllerState'];
withCatalogDatabase('pause_mirror', (opened) => {
  db = opened;
  record = controllerStateActivities({ db, batchConcurrency: 4 } as unknown as ActivityDeps).recordControllerState;
});

async function newSource(): Promise<string> {
  const id = unique('src');
  await db
    .insert(sources)
    .values({ id, bucketId: 'b1', name: id, kind: 's3', workflowId: `controller-${id}`, connection: { s3: { bucket: 'x', region: 'us-east-1' } } as never });
  return id;
}

/** What the pause route writes (api/source-pause.ts): when the write happened, by Postgres' clock. */
async function apiWrite(id: string, paused: boolean, by = 'alice'): Promise<{ at: number; pausedAt: Date | null }> {
  const [row] = await db
    .update(sources)
    .set(paused ? pausedSet('audit', by) : resumedSet())
    .where(eq(sources.id, id))
    .returning();
  return { at: row!.pauseChangedAt!.getTime(), pausedAt: row!.pausedAt };
}

const read = async (id: string) => (await db.select().from(sources).where(eq(sources.id, id)))[0]!;
const active = { status: SOURCE_STATUS.active, paused: false, pauseReason: null, pausedBy: null, nextSyncAt: 1_900_000_000_000 };
const paused = (by: string) => ({ status: SOURCE_STATUS.paused, paused: true, pauseReason: 'audit', pausedBy: by, nextSyncAt: null });

describe("the controller's mirror of a pause", () => {
  it("leaves the source's first pause alone when a snapshot taken before it lands after it, and takes the signal's own mirror", async () => {
    const id = await newSource();
    // The controller took its snapshot (active) a moment before the API's write; the activity lands after it.
    const before = Date.now() - 50;
    const pause = await apiWrite(id, true);
    await record({ sourceId: id, ...active, takenAt: before });
    const afterStale = await read(id);
    expect(afterStale).toMatchObject({ paused: true, status: SOURCE_STATUS.paused, pauseReason: 'audit', pausedBy: 'alice' });
    expect(afterStale.pausedAt).toEqual(pause.pausedAt);
    // The columns that are not the pause's still follow the controller.
    expect(afterStale.nextSyncAt).toEqual(new Date(active.nextSyncAt));

    // The signal's mirror, from a task after the write: the same pause, the time the API wrote kept.
    await record({ sourceId: id, ...paused('alice'), takenAt: pause.at + 5 });
    const mirrored = await read(id);
    expect(mirrored).toMatchObject({ paused: true, status: SOURCE_STATUS.paused, pausedBy: 'alice' });
    expect(mirrored.pausedAt).toEqual(pause.pausedAt);
  });

  it('leaves a resume alone when a paused snapshot from before it lands after it; a later snapshot writes again', async () => {
    const id = await newSource();
    const pause = await apiWrite(id, true);
    await record({ sourceId: id, ...paused('alice'), takenAt: pause.at + 1 });
    const resume = await apiWrite(id, false);
    await record({ sourceId: id, ...paused('alice'), takenAt: resume.at - 1 });
    expect(await read(id)).toMatchObject({ paused: false, status: SOURCE_STATUS.active, pausedAt: null, pausedBy: null, pauseReason: null });
    // A pause the CLI sent after the resume: the controller's snapshot of it is later than the API's write, so it lands.
    await record({ sourceId: id, ...paused('cli'), takenAt: resume.at + 10 });
    expect(await read(id)).toMatchObject({ paused: true, pausedBy: 'cli', status: SOURCE_STATUS.paused });
  });

  it('writes every snapshot of a controller from before the guard (no time in it), and every snapshot of a source the API never paused', async () => {
    const id = await newSource();
    await record({ sourceId: id, ...paused('cli'), takenAt: 1 });
    expect(await read(id)).toMatchObject({ paused: true, pausedBy: 'cli' });
    await apiWrite(id, true);
    await record({ sourceId: id, ...active });
    expect(await read(id)).toMatchObject({ paused: false, status: SOURCE_STATUS.active, pausedAt: null });
  });
});
