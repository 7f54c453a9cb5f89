/**
 * The controller's mirror of its state against the API's pause writes, on
 * the real Postgres: a snapshot the controller took before the API's pause
 * (or resume) reached it, landing after the API's write, must not undo it;
 * the mirror of the signal itself, and snapshots without a sequence (older
 * controllers), write as they always did.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { eq } from 'drizzle-orm';
import { ensureDatabase } from '../../infra/postgres-server.js';
import { runMigrations } from '../../db/migrate.js';
import { closeDb, createDb, type Db } from '../../db/client.js';
import { sources } from '../../db/schema.js';
import { pausedSet, resumedSet } from '../../api/pause-state.js';
import { controllerStateActivities } from '../../activities/controller-state.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { SOURCE_STATUS } from '../../domain/statuses.js';
import { unique } from '../support/lakesync.js';

let db: Db;
let record: ReturnType<typeof controllerStateActivities>['recordControllerState'];

beforeAll(async () => {
  const infra = inject('infra');
  const name = unique('pause_mirror').replace(/-/g, '_');
  await ensureDatabase(infra.postgresAdminUrl, name);
  const url = infra.postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
  await runMigrations(url);
  db = createDb(url, 2);
  await db.$client`insert into buckets (id, name) values ('b1', 'bucket-one')`;
  record = controllerStateActivities({ db, batchConcurrency: 4 } as unknown as ActivityDeps).recordControllerState;
});
afterAll(async () => {
  await closeDb(db);
});

async function newSource(): Promise<string> {
  const id = unique('src');
  await db
    .insert(sources)
    .values({ id, bucketId: 'b1', name: id, kind: 's3', workflowId: `controller-${id}`, connection: { s3: { bucket: 'x', region: 'us-east-1' } } as never });
  return id;
}

/** What the pause route writes (api/source-pause.ts), returning the row's new sequence. */
async function apiWrite(id: string, paused: boolean, by = 'alice'): Promise<{ seq: number; pausedAt: Date | null }> {
  const [row] = await db
    .update(sources)
    .set(paused ? pausedSet('audit', by) : resumedSet())
    .where(eq(sources.id, id))
    .returning();
  return { seq: row!.pauseSeq, pausedAt: row!.pausedAt };
}

const read = async (id: string) => (await db.select().from(sources).where(eq(sources.id, id)))[0]!;
const active = { status: SOURCE_STATUS.active, paused: false, pauseReason: null, pausedBy: null, nextSyncAt: 1_900_000_000_000 };
const paused = (by: string) => ({ status: SOURCE_STATUS.paused, paused: true, pauseReason: 'audit', pausedBy: by, nextSyncAt: null });

describe("the controller's mirror of a pause", () => {
  it("leaves the API's pause alone when a snapshot from before it lands after it, and takes the signal's own mirror", async () => {
    const id = await newSource();
    // The controller has seen no API pause yet (sequence 0) and is about to mirror that it is active.
    const pause = await apiWrite(id, true);
    expect(pause.seq).toBe(1);
    await record({ sourceId: id, ...active, pauseSeq: 0 });
    const afterStale = await read(id);
    expect(afterStale).toMatchObject({ paused: true, status: SOURCE_STATUS.paused, pauseReason: 'audit', pausedBy: 'alice', pauseSeq: 1 });
    expect(afterStale.pausedAt).toEqual(pause.pausedAt);
    // The columns that are not the pause's still follow the controller.
    expect(afterStale.nextSyncAt).toEqual(new Date(active.nextSyncAt));

    // The signal's mirror: the same pause, the time the API wrote kept.
    await record({ sourceId: id, ...paused('alice'), pauseSeq: 1 });
    const mirrored = await read(id);
    expect(mirrored).toMatchObject({ paused: true, status: SOURCE_STATUS.paused, pausedBy: 'alice' });
    expect(mirrored.pausedAt).toEqual(pause.pausedAt);
  });

  it('leaves a resume alone when a paused snapshot from before it lands after it', async () => {
    const id = await newSource();
    await apiWrite(id, true);
    await record({ sourceId: id, ...paused('alice'), pauseSeq: 1 });
    const resume = await apiWrite(id, false);
    expect(resume.seq).toBe(2);
    await record({ sourceId: id, ...paused('alice'), pauseSeq: 1 });
    expect(await read(id)).toMatchObject({ paused: false, status: SOURCE_STATUS.active, pausedAt: null, pausedBy: null, pauseReason: null });
    await record({ sourceId: id, ...active, pauseSeq: 2 });
    expect(await read(id)).toMatchObject({ paused: false, status: SOURCE_STATUS.active });
  });

  it('mirrors a pause the CLI sent (no sequence in the signal) once the controller is current, and every pause of a controller that has no sequence', async () => {
    const id = await newSource();
    await apiWrite(id, true);
    await apiWrite(id, false);
    // The CLI's pause: the controller's sequence stays at the API's last, which is the row's.
    await record({ sourceId: id, ...paused('cli'), pauseSeq: 2 });
    expect(await read(id)).toMatchObject({ paused: true, pausedBy: 'cli' });
    // A controller from before sequences (none in its snapshot) writes the pause columns unconditionally.
    await record({ sourceId: id, ...active });
    expect(await read(id)).toMatchObject({ paused: false, status: SOURCE_STATUS.active, pausedAt: null });
  });
});
