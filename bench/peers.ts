/**
 * The tools a user would otherwise pick, run on the same data at the same
 * concurrency: rclone (one remote for both buckets, so it copies server-side),
 * s3sync and s5cmd (server-side copies too), `aws s3 sync`, and a raw
 * CopyObject loop as the ceiling.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CopyObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';

const run = promisify(execFile);

/** The peers talk plain HTTP to a loopback MinIO; a machine-wide AWS_CA_BUNDLE only confuses rclone's S3 client. */
function peerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { AWS_CA_BUNDLE: _ca, AWS_PROFILE: _profile, ...rest } = process.env;
  return { ...rest, ...extra };
}

export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** rclone configured entirely through environment variables: no config file, no secrets on the command line. `rclone` (and `aws` below) are argv prefixes from infra/s3-clients.ts. */
export async function rcloneSync(rclone: string[], s3: S3Endpoint, from: string, to: string, concurrency: number, extra: string[] = []): Promise<void> {
  await run(
    rclone[0]!,
    [...rclone.slice(1), 'sync', `lake:${from}`, `lake:${to}`, '--transfers', String(concurrency), '--checkers', String(concurrency), '--fast-list', ...extra],
    {
      maxBuffer: 64 << 20,
      env: peerEnv({
        RCLONE_CONFIG_LAKE_TYPE: 's3',
        RCLONE_CONFIG_LAKE_PROVIDER: 'Minio',
        RCLONE_CONFIG_LAKE_ENDPOINT: s3.endpoint,
        RCLONE_CONFIG_LAKE_ACCESS_KEY_ID: s3.accessKeyId,
        RCLONE_CONFIG_LAKE_SECRET_ACCESS_KEY: s3.secretAccessKey,
        RCLONE_CONFIG_LAKE_REGION: s3.region,
      }),
    },
  );
}

/** `aws s3 sync` between two buckets of the same endpoint, with its request concurrency set to ours. */
export async function awsSync(aws: string[], s3: S3Endpoint, from: string, to: string, concurrency: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-bench-aws-'));
  const config = join(dir, 'config');
  await writeFile(config, `[default]\nregion = ${s3.region}\ns3 =\n  max_concurrent_requests = ${concurrency}\n  max_queue_size = ${concurrency * 100}\n`);
  await run(aws[0]!, [...aws.slice(1), 's3', 'sync', `s3://${from}`, `s3://${to}`, '--endpoint-url', s3.endpoint, '--only-show-errors'], {
    maxBuffer: 64 << 20,
    env: peerEnv({
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
    }),
  });
}

/**
 * `s5cmd sync` between two buckets of the same endpoint: both sides listed,
 * objects compared by size and modification time, copied server-side by
 * `workers` workers (s5cmd's own default is 256). Credentials go in through
 * its environment, never the command line. `s5cmd` is an argv prefix from
 * infra/s3-clients.ts.
 */
export async function s5cmdSync(s5cmd: string[], s3: S3Endpoint, from: string, to: string, workers: number): Promise<void> {
  await run(s5cmd[0]!, [...s5cmd.slice(1), '--endpoint-url', s3.endpoint, '--numworkers', String(workers), 'sync', `s3://${from}/*`, `s3://${to}/`], {
    maxBuffer: 256 << 20,
    env: peerEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region }),
  });
}

/** The ceiling: list the source and CopyObject every key, nothing else. */
export async function copyLoop(client: S3Client, from: string, to: string, concurrency: number): Promise<number> {
  const limit = pLimit(concurrency);
  const copies: Promise<unknown>[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: from, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      copies.push(
        limit(() => client.send(new CopyObjectCommand({ Bucket: to, Key: o.Key!, CopySource: `${from}/${encodeURIComponent(o.Key!).replace(/%2F/g, '/')}` }))),
      );
    }
    token = page.NextContinuationToken;
  } while (token);
  await Promise.all(copies);
  return copies.length;
}

/**
 * s3sync between two buckets of the same endpoint, copying server-side with
 * `concurrency` workers; credentials and endpoints go in through its
 * environment variables, never the command line. `--auto-chunksize` copies
 * a multipart object in its source's part sizes, so s3sync's own ETag check
 * of the copy passes; `--check-etag` (in `extra`) compares ETags, not just
 * sizes and modification times, to decide what to copy.
 */
export async function s3syncSync(s3sync: string, s3: S3Endpoint, from: string, to: string, concurrency: number, extra: string[] = []): Promise<void> {
  await run(s3sync, ['--worker-size', String(concurrency), '--server-side-copy', '--auto-chunksize', ...extra, `s3://${from}`, `s3://${to}`], {
    maxBuffer: 64 << 20,
    env: peerEnv({
      SOURCE_ENDPOINT_URL: s3.endpoint,
      TARGET_ENDPOINT_URL: s3.endpoint,
      SOURCE_REGION: s3.region,
      TARGET_REGION: s3.region,
      SOURCE_ACCESS_KEY: s3.accessKeyId,
      TARGET_ACCESS_KEY: s3.accessKeyId,
      SOURCE_SECRET_ACCESS_KEY: s3.secretAccessKey,
      TARGET_SECRET_ACCESS_KEY: s3.secretAccessKey,
      SOURCE_FORCE_PATH_STYLE: 'true',
      TARGET_FORCE_PATH_STYLE: 'true',
    }),
  });
}
