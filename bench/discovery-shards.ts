/**
 * `npm run bench -- --discovery-only --s3-shards 1,4`: a first scan of many S3
 * keys on MinIO with each shard count, beside a raw ListObjectsV2 loop over
 * the same key ranges (one stream per range, in parallel): what listing alone
 * costs, so lakesync's bookkeeping per key shows.
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type postgres from 'postgres';
import { cutsAtGroups, rangesFromCuts, withinShard, type ShardRange } from '../domain/shards.js';
import type { Row } from './report.js';

export interface ShardBenchDeps {
  s3: S3Client;
  sql: postgres.Sql;
  minio: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  callApi(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  waitJob(jobId: string): Promise<unknown>;
  log(m: string): void;
}

const BUCKET = 'src-keys';
const GROUPS = 100;

export async function s3ShardBench(d: ShardBenchDeps, keys: number, shardCounts: number[]): Promise<Row[]> {
  // One byte each: the SDK warns of an unknown length for an empty body, once per PUT.
  d.log(`writing ${keys} S3 keys in ${GROUPS} prefixes`);
  await d.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const put = pLimit(64);
  await Promise.all(
    Array.from({ length: keys }, (_, i) =>
      put(() =>
        d.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `keys/p${String(i % GROUPS).padStart(3, '0')}/k${String(i).padStart(8, '0')}`, Body: 'x' })),
      ),
    ),
  );
  const groups = Array.from({ length: GROUPS }, (_, g) => `p${String(g).padStart(3, '0')}/`);
  const rows: Row[] = [];
  for (const shards of shardCounts) {
    const ranges = rangesFromCuts(cutsAtGroups(groups, shards));
    rows.push({ tool: 'raw ListObjectsV2', scenario: `list ${keys} S3 keys, ${ranges.length} shard(s)`, seconds: await rawList(d.s3, ranges), objects: keys });
    const source = await d.callApi('POST', '/bench/sources', {
      name: `s3-keys-${shards}`,
      kind: 's3',
      s3: { endpoint: d.minio.endpoint, region: d.minio.region, bucket: BUCKET, prefix: 'keys/', forcePathStyle: true, ...keysOf(d.minio) },
      shards,
      // One copy: what follows the scan is not discovery.
      maxObjectsPerRun: 1,
      syncIntervalSeconds: 86400,
    });
    const started = await d.callApi('POST', `/bench/sources/${String(source.sourceId)}/discover`, {});
    const jobId = String(started.jobId);
    let scanned: Date | null = null;
    while (!scanned) {
      const [row] = await d.sql`select objects_listed from jobs where id = ${jobId}`;
      if (row && Number(row.objects_listed) >= keys) scanned = new Date();
      else await new Promise((r) => setTimeout(r, 50));
    }
    await d.waitJob(jobId);
    const [job] = await d.sql`select started_at from jobs where id = ${jobId}`;
    const seconds = (scanned.getTime() - (job!.started_at as Date).getTime()) / 1000;
    const [made] = await d.sql`select count(*)::int as n from scan_shards where job_id = ${jobId}`;
    // A job that resolved to one shard scanned with scanSource and wrote no shard rows.
    d.log(`lakesync scanned ${keys} keys in ${Math.max(1, Number(made?.n ?? 0))} shard(s) in ${seconds.toFixed(2)} s`);
    rows.push({ tool: 'lakesync', scenario: `list ${keys} S3 keys, ${ranges.length} shard(s)`, seconds, objects: keys });
  }
  return rows;
}

const keysOf = (m: ShardBenchDeps['minio']) => ({ accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey });

/** ListObjectsV2 pages of 1,000 from each range's start to its end, all ranges at once. */
async function rawList(s3: S3Client, ranges: ShardRange[]): Promise<number> {
  const start = performance.now();
  await Promise.all(
    ranges.map(async (r) => {
      let after = r.after;
      for (;;) {
        const res = await s3.send(
          new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'keys/', StartAfter: after === null ? undefined : `keys/${after}`, MaxKeys: 1000 }),
        );
        const objects = (res.Contents ?? []).map((o) => ({ key: o.Key!.slice('keys/'.length) }));
        const page = withinShard(objects, res.IsTruncated ? (objects.at(-1)?.key ?? null) : null, r.upTo);
        if (page.nextAfterKey === null) break;
        after = page.nextAfterKey;
      }
    }),
  );
  return (performance.now() - start) / 1000;
}
