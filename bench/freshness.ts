/**
 * `npm run bench -- --freshness`: how long a PUT at an S3 source takes to be
 * readable in the lake with change notifications (a MinIO of its own with a
 * webhook target pointing at the API's events route), PUTs one at a time, so
 * each measures a whole targeted run. Without notifications the same PUT
 * waits for the next poll: half the poll interval on average, all of it at worst.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../activities/storage/s3-client.js';
import { startMinio, type MinioServer } from '../infra/minio-server.js';
import { freePort } from '../infra/ports.js';

export interface FreshnessOptions {
  minioBinary: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  apiUrl: string;
  callApi(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  /** Where the lake is: its S3 client and bucket, and the lakesync bucket's name (the lake prefix). */
  lake: { s3: S3Client; bucket: string; prefix: string };
  puts: number;
  pollIntervalSeconds: number;
  log(m: string): void;
  cleanups: (() => Promise<unknown>)[];
}

export interface FreshnessResult {
  samples: number[];
  p50: number;
  p99: number;
  max: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

export async function freshnessBench(o: FreshnessOptions): Promise<FreshnessResult> {
  const port = await freePort();
  const source = (await o.callApi('POST', `/${o.lake.prefix}/sources`, {
    name: 'freshness',
    kind: 's3',
    s3: { endpoint: `http://127.0.0.1:${port}`, bucket: 'fresh', ...o.credentials, forcePathStyle: true },
    syncIntervalSeconds: o.pollIntervalSeconds,
    notifications: { mode: 'webhook' },
  })) as { notifications: { endpoint: string; token: string } };
  const minio: MinioServer = await startMinio({
    binary: o.minioBinary,
    dataDir: await mkdtemp(join(tmpdir(), 'lakesync-bench-fresh-')),
    port,
    credentials: o.credentials,
    env: {
      MINIO_NOTIFY_WEBHOOK_ENABLE_LAKESYNC: 'on',
      MINIO_NOTIFY_WEBHOOK_ENDPOINT_LAKESYNC: `${o.apiUrl}${source.notifications.endpoint}`,
      MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_LAKESYNC: source.notifications.token,
    },
    log: o.log,
  });
  o.cleanups.push(() => minio.stop());
  const s3 = createS3Client({ endpoint: minio.endpoint, region: minio.region, ...o.credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'fresh' }));
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: 'fresh',
      NotificationConfiguration: { QueueConfigurations: [{ QueueArn: 'arn:minio:sqs::LAKESYNC:webhook', Events: ['s3:ObjectCreated:*'] }] },
    }),
  );
  const readable = (key: string) =>
    o.lake.s3.send(new HeadObjectCommand({ Bucket: o.lake.bucket, Key: `${o.lake.prefix}/${key}` })).then(
      () => true,
      () => false,
    );
  const samples: number[] = [];
  for (let i = 0; i < o.puts; i++) {
    const key = `f/${String(i).padStart(4, '0')}.txt`;
    const start = performance.now();
    await s3.send(new PutObjectCommand({ Bucket: 'fresh', Key: key, Body: `fresh ${i}` }));
    const deadline = start + 60_000;
    while (!(await readable(key))) {
      if (performance.now() > deadline) throw new Error(`${key} not in the lake after 60 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    samples.push((performance.now() - start) / 1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { samples, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1)! };
}
