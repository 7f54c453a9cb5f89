/**
 * S3 change notifications, end to end: a MinIO of the test's own, started
 * with a webhook notification target (MINIO_NOTIFY_WEBHOOK_*) pointing at
 * this lakesync's events route with the source's token, copies what is PUT
 * and removes what is DELETEd within seconds, though the source polls hourly
 * and nobody calls the API; a burst coalesces into a few targeted runs with
 * exact counters; excluded keys, forged events and older events change nothing.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pLimit from 'p-limit';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../infra/ports.js';
import { startMinio, type MinioServer } from '../../infra/minio-server.js';
import { createS3Client } from '../../activities/storage/s3-client.js';
import { call, expectCoalescedEventRuns, settledRuns, waitFor, type JobView } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles } from '../support/objects.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';

describe('S3 change notifications (MinIO webhook target)', () => {
  let ls: TestLakesync;
  let minio: MinioServer;
  let s3: S3Client;
  let bucket: string;
  let lakeRoot: string;
  let sourceId: string;
  let token: string;
  let eventsPath: string;
  const srcBucket = 'events-src';
  const prefix = 'in/';

  const lakeFile = (key: string) => join(lakeRoot, key);
  const lakeText = (key: string) => readFile(lakeFile(key), 'utf8').catch(() => null);
  const jobs = async (): Promise<JobView[]> => {
    const all: JobView[] = [];
    let pageToken: string | undefined;
    do {
      const res = await call(ls.url, 'GET', `/${bucket}/jobs?source_id=${sourceId}&page_size=100${pageToken ? `&page_token=${pageToken}` : ''}`);
      expect(res.status).toBe(200);
      all.push(...(res.body.jobs as JobView[]));
      pageToken = res.body.nextPageToken || undefined;
    } while (pageToken);
    return all;
  };
  const settled = (timeoutMs?: number) => waitFor('runs settled', settledRuns(jobs), timeoutMs);
  const postEvents = (body: unknown, bearer: string | null = token, path = eventsPath) =>
    call(ls.url, 'POST', path, body, bearer === null ? { authorization: '' } : { authorization: `Bearer ${bearer}` });
  const record = (eventName: string, key: string, sequencer: string, eTag = 'abc') => ({
    Records: [{ eventName, s3: { bucket: { name: srcBucket }, object: { key: encodeURIComponent(key), size: 1, eTag, sequencer } } }],
  });

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    bucket = unique('nb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    // The source's MinIO needs the webhook's URL and token at start, and the source its endpoint: pick the port first.
    const port = await freePort();
    const { accessKeyId, secretAccessKey } = inject('infra').minio;
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'events',
      kind: 's3',
      s3: { endpoint: `http://127.0.0.1:${port}`, bucket: srcBucket, prefix, accessKeyId, secretAccessKey, forcePathStyle: true },
      syncIntervalSeconds: 3600,
      fileFilters: { excludePatterns: ['*.tmp'] },
      notifications: { mode: 'webhook' },
    });
    expect(created.status).toBe(201);
    sourceId = created.body.sourceId;
    token = created.body.notifications.token;
    eventsPath = created.body.notifications.endpoint;
    expect(token).toMatch(/^lsn_/);
    expect(eventsPath).toBe(`/${bucket}/sources/${sourceId}/events`);
    minio = await startMinio({
      binary: inject('infra').minioBinary,
      dataDir: await mkdtemp(join(tmpdir(), 'lakesync-minio-events-')),
      port,
      credentials: { accessKeyId, secretAccessKey },
      env: {
        MINIO_NOTIFY_WEBHOOK_ENABLE_LAKESYNC: 'on',
        MINIO_NOTIFY_WEBHOOK_ENDPOINT_LAKESYNC: `${ls.url}${eventsPath}`,
        MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_LAKESYNC: token,
      },
      log: () => undefined,
    });
    s3 = createS3Client({ endpoint: minio.endpoint, region: minio.region, accessKeyId, secretAccessKey, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: srcBucket,
        NotificationConfiguration: {
          QueueConfigurations: [{ QueueArn: 'arn:minio:sqs::LAKESYNC:webhook', Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] }],
        },
      }),
    );
  }, 180_000);
  afterAll(async () => {
    await ls?.stop();
    await minio?.stop();
  });

  it('shows the token once: GET says only that one is set', async () => {
    const got = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`);
    expect(got.body.notifications).toEqual({ mode: 'webhook', endpoint: eventsPath, tokenSet: true });
    expect(JSON.stringify(got.body)).not.toContain(token);
  });

  it('copies a PUT and removes a DELETE with no poll and no API trigger', async () => {
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}docs/a b.txt`, Body: 'hello' }));
    await waitFor('the PUT in the lake', async () => (await lakeText('docs/a b.txt')) === 'hello', 60_000);
    await s3.send(new DeleteObjectCommand({ Bucket: srcBucket, Key: `${prefix}docs/a b.txt` }));
    await waitFor('the DELETE in the lake', async () => (await lakeText('docs/a b.txt')) === null, 60_000);
    const all = await settled();
    expect(all.length).toBeGreaterThan(0);
    // Only targeted runs: no scheduled scan (hourly) and no API call ran.
    expect(all.every((j) => j.trigger === 'event' && j.kind === 'ingestion')).toBe(true);
    expect(all.reduce((n, j) => n + j.objectsProcessed, 0)).toBe(1);
    expect(all.reduce((n, j) => n + j.objectsDeleted, 0)).toBe(1);
  });

  it('refuses a forged event (401), an unknown source (404), and never echoes the token', async () => {
    const forged = await postEvents(record('s3:ObjectCreated:Put', `${prefix}forged.txt`, '1'), 'lsn_not-the-token');
    expect(forged.status).toBe(401);
    expect(forged.body.details).toEqual([{ field: 'authorization', problem: 'is not the webhook token of this source' }]);
    expect((await postEvents(record('s3:ObjectCreated:Put', `${prefix}forged.txt`, '1'), null)).status).toBe(401);
    expect((await postEvents(record('s3:ObjectCreated:Put', `${prefix}x.txt`, '1'), token, `/${bucket}/sources/src_nosuchsource/events`)).status).toBe(404);
    // The right token for another bucket's path is no key to this source.
    expect((await postEvents(record('s3:ObjectCreated:Put', `${prefix}x.txt`, '1'), token, `/not-${bucket}/sources/${sourceId}/events`)).status).toBe(404);
    const bad = await postEvents({
      Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: srcBucket }, object: { key: 'k', sequencer: 'xyz!' } } }],
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('sequencer');
  });

  it('ignores events for keys the filters exclude or outside the prefix', async () => {
    const ignored = await postEvents({
      Records: [
        ...record('s3:ObjectCreated:Put', `${prefix}scratch.tmp`, '10').Records,
        ...record('s3:ObjectCreated:Put', 'elsewhere/x.txt', '11').Records,
        { ...record('s3:ObjectCreated:Put', `${prefix}x.txt`, '12').Records[0]!, s3: { bucket: { name: 'other-bucket' }, object: { key: 'in/x.txt' } } },
      ],
    });
    expect(ignored.status).toBe(202);
    expect(ignored.body).toEqual({ accepted: 0, ignored: 3 });
    // The same through MinIO: the excluded key never lands, though the one PUT after it does.
    const before = (await settled()).length;
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}scratch.tmp`, Body: 'skip' }));
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}marker.txt`, Body: 'm' }));
    await waitFor('the marker in the lake', async () => (await lakeText('marker.txt')) === 'm', 60_000);
    const after = await settled();
    expect(await lakeText('scratch.tmp')).toBeNull();
    expect(after.length - before).toBeGreaterThan(0);
    expect(after.slice(0, after.length - before).reduce((n, j) => n + j.objectsDiscovered, 0)).toBe(1);
  });

  it('never regresses an object on an older or duplicate event', async () => {
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}o.txt`, Body: 'v1' }));
    await waitFor('v1', async () => (await lakeText('o.txt')) === 'v1', 60_000);
    await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}o.txt`, Body: 'v2' }));
    await waitFor('v2', async () => (await lakeText('o.txt')) === 'v2', 60_000);
    const before = (await settled()).length;
    // An older PUT event (a low sequencer, v1's etag) and an older removal, delivered late.
    const late = await postEvents({
      Records: [
        ...record('s3:ObjectCreated:Put', `${prefix}o.txt`, '0001', 'v1etag').Records,
        ...record('s3:ObjectRemoved:Delete', `${prefix}o.txt`, '0002').Records,
      ],
    });
    expect(late.status).toBe(202);
    expect(late.body.accepted).toBe(2);
    await waitFor('the late events applied', async () => (await jobs()).length > before);
    const all = await settled();
    const run = all.slice(0, all.length - before);
    expect(run.reduce((n, j) => n + j.objectsDiscovered + j.objectsDeleted, 0)).toBe(0);
    expect(await lakeText('o.txt')).toBe('v2');
  });

  it('coalesces a burst of 2,000 PUTs into a few runs with exact counters', async () => {
    const before = (await settled()).length;
    const limit = pLimit(32);
    const keys = Array.from({ length: 2000 }, (_, i) => `burst/${String(i).padStart(4, '0')}.txt`);
    await Promise.all(keys.map((k) => limit(() => s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: `${prefix}${k}`, Body: k })))));
    await waitFor('the burst in the lake', async () => (await listFiles(join(lakeRoot, 'burst')).catch(() => [])).length === 2000, 240_000, 500);
    const all = await settled(120_000);
    const runs = all.slice(0, all.length - before);
    expectCoalescedEventRuns(runs, 2000);
    for (const k of ['burst/0000.txt', 'burst/1999.txt']) expect(await readFile(lakeFile(k), 'utf8')).toBe(k);
    expect((await stat(lakeFile('burst/1234.txt'))).size).toBe('burst/1234.txt'.length);
  }, 400_000);

  it('refuses a notifications mode the kind does not take, naming the field', async () => {
    const res = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { notifications: { mode: 'watch' } });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'notifications.mode', problem: 's3 sources take "webhook" or "sqs"' }]);
    // Rotating issues a new token once; the old one stops working at once.
    const rotated = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { notifications: { mode: 'webhook', rotateToken: true } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.notifications.token).toMatch(/^lsn_/);
    expect(rotated.body.notifications.token).not.toBe(token);
    expect((await postEvents({ Event: 's3:TestEvent' })).status).toBe(401);
    expect((await postEvents({ Event: 's3:TestEvent' }, rotated.body.notifications.token)).status).toBe(202);
    const off = await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { notifications: { mode: 'off' } });
    expect(off.body.notifications).toEqual({ mode: 'off', tokenSet: false });
    expect((await postEvents({ Event: 's3:TestEvent' }, rotated.body.notifications.token)).status).toBe(401);
  });
});
