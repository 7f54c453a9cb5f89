/**
 * The state of S3 multipart uploads against the real Postgres: parts racing
 * each other, Complete racing Abort, retried Completes, listings, and the
 * clean-up of abandoned uploads by two sweepers at once (with a real
 * directory lake holding the parts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { closeDb, createDb, type Db } from '../../db/client.js';
import { migratedDatabase } from '../support/migrated-db.js';
import { FilesystemLake } from '../../lake/fs-lake.js';
import type { StoredPart } from '../../lake/types.js';
import {
  abortUpload,
  claimForComplete,
  createUpload,
  findUpload,
  finishComplete,
  listParts,
  listUploads,
  recordPart,
  releaseComplete,
  removeAbandonedUploads,
  renewClaim,
} from '../../api/s3/multipart-state.js';

let db: Db;
let dir: string;
const BUCKET = 'b1';

beforeAll(async () => {
  db = createDb(await migratedDatabase('multipart_state'), 8);
  await db.$client`insert into buckets (id, name) values (${BUCKET}, 'bucket-one'), ('b2', 'bucket-two')`;
  dir = await mkdtemp(join(tmpdir(), 'lakesync-mpstate-'));
});
afterAll(async () => {
  await closeDb(db);
  await rm(dir, { recursive: true, force: true });
});

const part = (n: number, tag = 'a'): StoredPart => ({ partNumber: n, etag: `${tag}${n}`.padEnd(32, '0'), size: n * 10, lakePart: `${tag}-${n}` });
const start = (key: string, bucketId = BUCKET) =>
  createUpload(db, { bucketId, key, orgId: 'org', accessKeyId: 'LKSAEXAMPLE', metadata: { contentType: 'text/plain', user: { a: 'b' } }, lakeHandle: 'h' });

describe('multipart upload state', () => {
  it('gives unguessable URL-safe ids and finds an upload only with its own bucket and key', async () => {
    const u = await start('k/one');
    expect(u.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(u).toMatchObject({
      key: 'k/one',
      orgId: 'org',
      accessKeyId: 'LKSAEXAMPLE',
      state: 'open',
      metadata: { contentType: 'text/plain', user: { a: 'b' } },
    });
    expect(u.createdAt).toBeInstanceOf(Date);
    expect((await findUpload(db, BUCKET, 'k/one', u.id))?.createdAt.getTime()).toBe(u.createdAt.getTime());
    expect(await findUpload(db, BUCKET, 'k/other', u.id)).toBeNull();
    expect(await findUpload(db, 'b2', 'k/one', u.id)).toBeNull();
  });

  it('records parts arriving at once side by side, a part again replaces it, and lists them in pages', async () => {
    const u = await start('k/parts');
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => recordPart(db, u.id, part(25 - i))));
    expect(results.every(Boolean)).toBe(true);
    expect(await recordPart(db, u.id, part(7, 'b'))).toBe(true);
    const first = await listParts(db, u.id, 0, 10);
    expect(first.more).toBe(true);
    expect(first.parts.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(first.parts[0]!.uploadedAt).toBeInstanceOf(Date);
    expect(first.parts[6]).toMatchObject({ etag: part(7, 'b').etag, lakePart: 'b-7', size: 70 });
    const last = await listParts(db, u.id, 20, 10);
    expect(last).toMatchObject({ more: false });
    expect(last.parts.map((p) => p.partNumber)).toEqual([21, 22, 23, 24, 25]);
  });

  it('refuses part numbers outside 1..10000 at the database too', async () => {
    const u = await start('k/numbers');
    await expect(recordPart(db, u.id, part(10_001))).rejects.toThrow(/multipart_parts_number_check/);
    await expect(recordPart(db, u.id, part(0))).rejects.toThrow(/multipart_parts_number_check/);
  });

  it('lets exactly one of a racing Complete and Abort happen', async () => {
    const uploads = await Promise.all(Array.from({ length: 20 }, (_, i) => start(`race/${i}`)));
    await Promise.all(uploads.map((u) => recordPart(db, u.id, part(1))));
    const outcomes = await Promise.all(
      uploads.map(async (u) => {
        const [claim, aborted] = await Promise.all([claimForComplete(db, BUCKET, u.key, u.id), abortUpload(db, BUCKET, u.key, u.id)]);
        return { claimed: claim.kind === 'claimed', aborted: aborted !== null, gone: claim.kind === 'gone' };
      }),
    );
    for (const o of outcomes) {
      expect(o.claimed !== o.aborted).toBe(true);
      expect(o.gone).toBe(o.aborted);
    }
  });

  it('while completing: parts and aborts are refused and a second Complete is told it runs; then a retry gets the same answer', async () => {
    const u = await start('k/complete');
    await recordPart(db, u.id, part(2));
    await recordPart(db, u.id, part(1));
    const claim = await claimForComplete(db, BUCKET, u.key, u.id);
    expect(claim.kind).toBe('claimed');
    expect(claim.kind === 'claimed' && claim.parts.map((p) => [p.partNumber, p.etag, p.size, p.lakePart])).toEqual([
      [1, part(1).etag, 10, 'a-1'],
      [2, part(2).etag, 20, 'a-2'],
    ]);
    expect(await recordPart(db, u.id, part(3))).toBe(false);
    expect(await abortUpload(db, BUCKET, u.key, u.id)).toBeNull();
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('busy');
    expect((await listUploads(db, BUCKET, { prefix: 'k/complete', keyMarker: null, uploadIdMarker: null, limit: 10 })).uploads).toHaveLength(1);

    await finishComplete(db, u.id, 'abc-2');
    expect(await claimForComplete(db, BUCKET, u.key, u.id)).toMatchObject({ kind: 'completed', etag: 'abc-2' });
    expect((await listParts(db, u.id, 0, 10)).parts).toEqual([]);
    expect((await listUploads(db, BUCKET, { prefix: 'k/complete', keyMarker: null, uploadIdMarker: null, limit: 10 })).uploads).toEqual([]);
    expect(await abortUpload(db, BUCKET, u.key, u.id)).toBeNull();
  });

  it('opens an upload again when its Complete did not happen', async () => {
    const u = await start('k/release');
    await recordPart(db, u.id, part(1));
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('claimed');
    await releaseComplete(db, u.id);
    expect(await recordPart(db, u.id, part(2))).toBe(true);
    expect((await abortUpload(db, BUCKET, u.key, u.id))?.id).toBe(u.id);
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('gone');
  });

  it('lets a Complete whose claim outlived its lease (its process died) be taken over; a renewed claim stays busy', async () => {
    const u = await start('k/lease');
    await recordPart(db, u.id, part(1));
    expect(await claimForComplete(db, BUCKET, u.key, u.id)).toMatchObject({ kind: 'claimed', reclaimed: false });
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('busy');
    // The claim was last renewed ten minutes ago: nobody is completing it any more.
    await db.$client`update multipart_uploads set claimed_at = now() - interval '10 minutes' where id = ${u.id}`;
    const again = await claimForComplete(db, BUCKET, u.key, u.id);
    expect(again).toMatchObject({ kind: 'claimed', reclaimed: true, parts: [part(1)] });
    // The new claim is fresh, and renewing keeps it so.
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('busy');
    await db.$client`update multipart_uploads set claimed_at = now() - interval '10 minutes' where id = ${u.id}`;
    await renewClaim(db, u.id);
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('busy');
    await finishComplete(db, u.id, 'abc-1');
    expect(await claimForComplete(db, BUCKET, u.key, u.id)).toMatchObject({ kind: 'completed', etag: 'abc-1' });
  });

  it('records the completion before the catalog write, so a Complete retried after that write failed answers the result', async () => {
    const u = await start('k/catalog-failed');
    await recordPart(db, u.id, part(1));
    expect((await claimForComplete(db, BUCKET, u.key, u.id)).kind).toBe('claimed');
    // The lake joined the object: the completion is recorded at once; the catalog write then fails.
    await finishComplete(db, u.id, 'joined-1');
    // Nothing reopens it (a release after completion is a no-op), and a retry answers the completed result.
    await releaseComplete(db, u.id);
    expect(await claimForComplete(db, BUCKET, u.key, u.id)).toMatchObject({ kind: 'completed', etag: 'joined-1' });
    expect(await recordPart(db, u.id, part(2))).toBe(false);
  });

  it('lists uploads by key, oldest first per key, in pages by key and upload-id markers, under a prefix', async () => {
    const a1 = await start('list/a');
    const a2 = await start('list/a');
    const b = await start('list/b');
    await start('other/c');
    const q = (keyMarker: string | null, uploadIdMarker: string | null, limit: number) =>
      listUploads(db, BUCKET, { prefix: 'list/', keyMarker, uploadIdMarker, limit });
    const one = await q(null, null, 2);
    expect(one.more).toBe(true);
    expect(one.uploads.map((u) => u.id)).toEqual([a1.id, a2.id]);
    const two = await q('list/a', a2.id, 2);
    expect(two).toMatchObject({ more: false });
    expect(two.uploads.map((u) => u.id)).toEqual([b.id]);
    expect((await q('list/a', a1.id, 5)).uploads.map((u) => u.id)).toEqual([a2.id, b.id]);
    expect((await q('list/a', null, 5)).uploads.map((u) => u.id)).toEqual([b.id]);
  });

  it('goes with its bucket', async () => {
    await db.$client`insert into buckets (id, name) values ('b3', 'bucket-three')`;
    const u = await start('k/cascade', 'b3');
    await recordPart(db, u.id, part(1));
    await db.$client`delete from buckets where id = 'b3'`;
    expect(await findUpload(db, 'b3', 'k/cascade', u.id)).toBeNull();
    expect((await db.$client`select 1 from multipart_parts where upload_id = ${u.id}`).length).toBe(0);
  });
});

describe('the clean-up of abandoned uploads', () => {
  it('aborts old uploads in the lake and forgets them, shared by two sweepers, leaving recent ones', async () => {
    const lake = new FilesystemLake(dir);
    const made = async (key: string, old: boolean) => {
      const handle = await lake.createMultipart('bucket-two', key, {});
      const stored = await lake.uploadPart('bucket-two', key, handle, 1, Readable.from([Buffer.from('part')]), 4);
      const u = await createUpload(db, { bucketId: 'b2', key, orgId: 'org', accessKeyId: null, metadata: {}, lakeHandle: handle });
      await recordPart(db, u.id, stored);
      if (old) await db.$client`update multipart_uploads set created_at = now() - interval '8 days' where id = ${u.id}`;
      return { id: u.id, handle };
    };
    const old = await Promise.all(Array.from({ length: 7 }, (_, i) => made(`old/${i}`, true)));
    const recent = await made('recent/x', false);
    const done = await made('old/completed', true);
    await db.$client`update multipart_uploads set state = 'completed', completed_etag = 'x-1' where id = ${done.id}`;

    const maxAge = 7 * 24 * 3600 * 1000;
    const counts = await Promise.all([removeAbandonedUploads(db, lake, maxAge, 2), removeAbandonedUploads(db, lake, maxAge, 2)]);
    // Earlier tests' uploads are recent: only this test's old ones go, each once.
    expect(counts[0]! + counts[1]!).toBe(old.length + 1);
    const left = await db.$client<{ id: string }[]>`select id from multipart_uploads where bucket_id = 'b2'`;
    expect(left.map((r) => r.id)).toEqual([recent.id]);
    expect((await readdir(join(dir, '.multipart'))).sort()).toEqual([done.handle, recent.handle].sort());
    expect(await removeAbandonedUploads(db, lake, maxAge)).toBe(0);
  });

  it('gets past an upload the lake cannot abort, leaves a Complete at work alone, and takes over a dead one', async () => {
    const lake = new FilesystemLake(dir);
    await db.$client`insert into buckets (id, name) values ('b4', 'bucket-four')`;
    const made = async (key: string, handle?: string) => {
      const h = handle ?? (await lake.createMultipart('bucket-four', key, {}));
      const u = await createUpload(db, { bucketId: 'b4', key, orgId: 'org', accessKeyId: null, metadata: {}, lakeHandle: h });
      await db.$client`update multipart_uploads set created_at = now() - interval '8 days' where id = ${u.id}`;
      return { id: u.id, handle: h };
    };
    // The lake refuses to abort this one (its handle is not one the directory lake ever made), on every pass.
    const stuck = await made('old/stuck', 'not-a-handle');
    const others = await Promise.all(Array.from({ length: 5 }, (_, i) => made(`old/${i}`)));
    const working = await made('old/completing');
    await claimForComplete(db, 'b4', 'old/completing', working.id);
    const dead = await made('old/dead-complete');
    await claimForComplete(db, 'b4', 'old/dead-complete', dead.id);
    await db.$client`update multipart_uploads set claimed_at = now() - interval '1 hour' where id = ${dead.id}`;

    const warned: object[] = [];
    const maxAge = 7 * 24 * 3600 * 1000;
    const removed = await removeAbandonedUploads(db, lake, maxAge, 2, { warn: (obj) => void warned.push(obj) });
    expect(removed).toBe(others.length + 1);
    expect(warned).toMatchObject([{ uploadId: stuck.id }]);
    const left = await db.$client<{ id: string }[]>`select id from multipart_uploads where bucket_id = 'b4'`;
    expect(left.map((r) => r.id).sort()).toEqual([stuck.id, working.id].sort());
    const staged = await readdir(join(dir, '.multipart'));
    for (const u of [...others, dead]) expect(staged).not.toContain(u.handle);
    expect(staged).toContain(working.handle);
  });
});
