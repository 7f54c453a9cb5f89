/**
 * Mixpeek's bucket-sync routes as its documentation shows them
 * (test/fixtures/mixpeek-resume-sync.txt, a copy of ../shared/seeds'
 * "Resume Sync Configuration"): its curl sample run by the real shell and
 * curl with only the host, the ids and the token put in, against a source
 * reading a real MinIO bucket; the answer checked key by key against the
 * example the page shows.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MixpeekSync } from '../../api/contract/mixpeek.js';
import { controllerStatus } from '../support/controller.js';
import { call, waitFor } from '../support/http.js';
import { minioClient, startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

const run = promisify(execFile);
const SEED = new URL('../fixtures/mixpeek-resume-sync.txt', import.meta.url);

/** The page's curl sample, its example answer, and the fields its text calls nullable (`… | null`). */
async function readSeed() {
  const text = await readFile(SEED, 'utf8');
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('curl '));
  const to = lines.findIndex((l, i) => i > from && !l.endsWith('\\'));
  const open = lines.indexOf('{');
  const close = lines.indexOf('}', open);
  const example = JSON.parse(lines.slice(open, close + 1).join('\n')) as Record<string, unknown>;
  // In the field reference, a field's name stands alone on its line, its type on the next.
  const nullable = new Set(Object.keys(example).filter((k) => lines.some((l, i) => l === k && lines[i + 1]?.trimEnd().endsWith('| null'))));
  return { sample: lines.slice(from, to + 1).join('\n'), example, nullable };
}

const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

/** Where `got` differs from the example's shape: a missing key, or another JSON type (null only where `nullable` allows). */
function shapeProblems(example: unknown, got: unknown, path: string, nullable: (path: string) => boolean): string[] {
  if (got === null && nullable(path)) return [];
  if (jsonType(example) !== jsonType(got)) return [`${path}: ${jsonType(got)}, the example has ${jsonType(example)}`];
  if (Array.isArray(example) && Array.isArray(got) && example.length > 0)
    return got.flatMap((g, i) => shapeProblems(example[0], g, `${path}[${i}]`, () => false));
  if (jsonType(example) === 'object') {
    const e = example as Record<string, unknown>;
    const g = got as Record<string, unknown>;
    return Object.keys(e).flatMap((k) =>
      k in g ? shapeProblems(e[k], g[k], path ? `${path}.${k}` : k, nullable) : [`${path ? `${path}.` : ''}${k}: missing`],
    );
  }
  return [];
}

describe("Mixpeek's sync routes", () => {
  let ls: TestLakesync;
  let seed: Awaited<ReturnType<typeof readSeed>>;
  const bucket = unique('mx');
  const srcBucket = unique('mxsrc');
  let sourceId: string;
  let workflowId: string;

  const as = async (claims: { sub?: string; org?: string; scope?: string }) => ({ authorization: `Bearer ${await ls.token(claims)}` });
  const syncPath = (id = sourceId, b = bucket) => `/v1/buckets/${b}/syncs/${id}`;
  /** The seed's sample, run by sh and curl: only the host, the path's ids and the token are put in. */
  const curl = async (o: { token: string; id?: string; b?: string }) => {
    const command = seed.sample
      .replace('https://api.mixpeek.com', ls.url)
      .replace('{bucket_id}', o.b ?? bucket)
      .replace('{sync_config_id}', o.id ?? sourceId)
      .replace('<token>', o.token);
    const { stdout } = await run('sh', ['-c', `${command} --silent --show-error --write-out '\\n%{http_code}'`]);
    const at = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as any };
  };
  const row = async () => (await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}`)).body;
  /** What a pause or resume would change (the controller's own writes, such as nextSyncAt, go on meanwhile). */
  const pauseState = async () => {
    const { paused, pauseReason, pausedAt, pausedBy, status, name, fileFilters } = await row();
    return { paused, pauseReason, pausedAt, pausedBy, status, name, fileFilters };
  };

  beforeAll(async () => {
    seed = await readSeed();
    ls = await startTestLakesync({ lake: 'filesystem' });
    const s3 = minioClient();
    await s3.send(new CreateBucketCommand({ Bucket: srcBucket }));
    for (const key of ['docs/a.txt', 'docs/b.txt'])
      await s3.send(new PutObjectCommand({ Bucket: srcBucket, Key: key, Body: key, ContentType: 'text/plain', Metadata: { team: 'data' } }));
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const { minio } = inject('infra');
    const created = await call(
      ls.url,
      'POST',
      `/${bucket}/sources`,
      {
        name: 'docs',
        kind: 's3',
        s3: { endpoint: minio.endpoint, bucket: srcBucket, prefix: 'docs/', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
        syncIntervalSeconds: 3600,
        // Every filter set, so each of Mixpeek's file_filters fields has a value to show.
        fileFilters: {
          includePatterns: ['**/*.txt'],
          excludePatterns: ['**/tmp/**'],
          minSizeBytes: 1,
          maxSizeBytes: 1_000_000,
          modifiedAfter: '2000-01-01T00:00:00Z',
          modifiedBefore: '2100-01-01T00:00:00Z',
          mimeTypes: ['text/*'],
          metadataFilters: [{ field: 'metadata.team', operator: 'contains', value: 'dat' }],
        },
      },
      await as({ sub: 'creator@example.com' }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ({ sourceId, workflowId } = created.body);
  });
  afterAll(async () => {
    await ls?.stop();
  });

  it('reads its example and its nullable fields from the seed', () => {
    expect(seed.sample).toContain('/v1/buckets/{bucket_id}/syncs/{sync_config_id}/resume');
    // lakesync's answer has exactly the example's fields.
    expect(Object.keys(seed.example).sort()).toEqual(Object.keys(MixpeekSync.shape).sort());
    expect(seed.nullable).toEqual(
      new Set(
        'file_filters schema_mapping last_sync_at next_sync_at last_error source_type locked_by_worker_id locked_at lock_expires_at pause_reason paused_at paused_by_user_id current_sync_run_id resume_cursor resume_last_primary_key current_cursor schedule'.split(
          ' ',
        ),
      ),
    );
  });

  it('GET answers the source as a sync configuration, and the list holds it', async () => {
    const got = await call(ls.url, 'GET', syncPath());
    expect(got.status).toBe(200);
    expect(MixpeekSync.strict().parse(got.body)).toMatchObject({
      bucket_id: bucket,
      sync_config_id: sourceId,
      connection_id: sourceId,
      internal_id: 'test-org',
      namespace_id: 'test-org',
      source_path: `${srcBucket}/docs/`,
      source_type: 's3',
      created_by_user_id: 'creator@example.com',
      status: 'ACTIVE',
      is_active: true,
      paused: false,
      paused_at: null,
      polling_interval_seconds: 3600,
      file_filters: { include_patterns: ['**/*.txt'], min_size_bytes: 1, metadata_filters: [{ field: 'metadata.team', operator: 'contains', value: 'dat' }] },
      reconcile: { on_delete: true, on_update: true, on_filter_drift: true },
    });
    const list = await call(ls.url, 'GET', `/v1/buckets/${bucket}/syncs?limit=10`);
    expect(list.status).toBe(200);
    expect(list.body.total_count).toBe(1);
    expect(list.body.syncs.map((s: { sync_config_id: string }) => s.sync_config_id)).toEqual([sourceId]);
  });

  it('pause shows who paused it and why, SUSPENDED; the seed’s resume, run by curl, answers every field of the example and brings it back', async () => {
    const paused = await call(ls.url, 'POST', `${syncPath()}/pause`, { reason: 'audit' }, await as({ sub: 'alice' }));
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pause_reason: 'audit', paused_by_user_id: 'alice', status: 'SUSPENDED', is_active: false });
    expect(Date.parse(paused.body.paused_at)).toBeGreaterThan(0);
    await waitFor('the controller paused', async () => (await controllerStatus(ls.runtime.temporal, workflowId)).paused);
    expect((await call(ls.url, 'GET', syncPath())).body).toMatchObject({ paused: true, paused_at: paused.body.paused_at, status: 'SUSPENDED' });
    // The same row as lakesync's own view of the source.
    expect(await row()).toMatchObject({ paused: true, pausedBy: 'alice', pauseReason: 'audit', pausedAt: paused.body.paused_at });

    const resumed = await curl({ token: await ls.token({ sub: 'bob' }) });
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(shapeProblems(seed.example, resumed.body, '', (p) => seed.nullable.has(p))).toEqual([]);
    // Settings, never credentials.
    expect(JSON.stringify(resumed.body)).not.toContain(inject('infra').minio.secretAccessKey);
    expect(MixpeekSync.strict().parse(resumed.body)).toMatchObject({
      sync_config_id: sourceId,
      paused: false,
      pause_reason: null,
      paused_at: null,
      paused_by_user_id: null,
      status: 'ACTIVE',
      is_active: true,
    });
    await waitFor('the controller resumed', async () => !(await controllerStatus(ls.runtime.temporal, workflowId)).paused);
    expect(await row()).toMatchObject({ paused: false, status: 'SOURCE_STATUS_ACTIVE' });
  });

  it('another organisation’s sync and an unknown one are not found, in Mixpeek’s error envelope, and change nothing', async () => {
    const before = await pauseState();
    const other = await as({ org: 'other-org' });
    for (const [method, path] of [
      ['GET', syncPath()],
      ['POST', `${syncPath()}/pause`],
      ['GET', `/v1/buckets/${bucket}/syncs`],
    ] as const) {
      const res = await call(ls.url, method, path, method === 'POST' ? {} : undefined, other);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ success: false, status: 404, error: { type: 'NotFoundError' } });
    }
    // The seed's own call, with another organisation's token.
    const theirs = await curl({ token: await ls.token({ org: 'other-org' }) });
    expect(theirs).toMatchObject({ status: 404, body: { success: false, status: 404, error: { type: 'NotFoundError' } } });
    const unknown = await curl({ token: await ls.token(), id: 'src_doesnotexist' });
    expect(unknown).toMatchObject({ status: 404, body: { success: false, error: { type: 'NotFoundError', message: 'source src_doesnotexist not found' } } });
    expect((await call(ls.url, 'GET', syncPath(sourceId, 'no-such-bucket'))).status).toBe(404);
    expect(await pauseState()).toEqual(before);
  });

  it('refuses a reason with NUL or control characters, naming the field, and a read-only token; pauses nothing', async () => {
    for (const reason of ['a\u0000b', 'bell\u0007', 'esc\u001b[2J']) {
      const res = await call(ls.url, 'POST', `${syncPath()}/pause`, { reason });
      expect(res.status, JSON.stringify(reason)).toBe(400);
      expect(res.body).toMatchObject({ success: false, status: 400, error: { type: 'BadRequestError', details: { fields: [{ field: 'reason' }] } } });
    }
    const unknownField = await call(ls.url, 'POST', `${syncPath()}/resume`, { force: true });
    expect(unknownField.status).toBe(400);
    const readOnly = await call(ls.url, 'POST', `${syncPath()}/pause`, {}, await as({ scope: 'read' }));
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toMatchObject({ success: false, status: 403, error: { type: 'UnauthorizedError' } });
    expect(await row()).toMatchObject({ paused: false, pausedAt: null });
  });

  it('a bucket named v1 is refused: its paths are Mixpeek’s routes', async () => {
    const res = await call(ls.url, 'POST', '/admin/buckets', { name: 'v1' });
    expect(res.status).toBe(400);
    // Two characters are too short for an S3 bucket name anyway; the reservation says so whatever the length rule.
    expect(res.body.details).toContainEqual({ field: 'name', problem: 'is reserved' });
  });
});
