/**
 * Hostile input against signed URLs and what surrounds them: a URL dies with
 * the bucket it was signed for, its origin never comes from a client's Host
 * header, signatures and query parameters never reach a log line, the
 * unauthenticated API /metrics names no source or bucket, and a search can't
 * buy unbounded database time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { has, scrape } from '../support/metrics.js';
import { pino } from 'pino';
import { DrizzleQueryError, sql as drizzleSql } from 'drizzle-orm';
import { DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { createLogger, withSafeSerializers } from '../../workers/logger.js';
import { activityFailureScrub } from '../../workers/activity-failure-scrub.js';
import { safeErrorText } from '../../domain/error-text.js';
import { closeDb, createDb } from '../../db/client.js';
import { buckets, sources } from '../../db/schema.js';

/** A GET with exactly these headers (fetch will not send a Host of our choosing). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'GET', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

const putObject = async (base: string, token: string, bucket: string, key: string, body: string) => {
  const res = await fetch(`${base}/${bucket}/${key}`, { method: 'PUT', body, headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
};

describe('hostile URLs, origins, logs, metrics and searches', () => {
  let ls: TestLakesync;
  let proxied: TestLakesync;
  let sql: postgres.Sql;
  let logs = '';
  let dir: string;

  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) });
    ls = await startTestLakesync({
      lake: 'filesystem',
      log: createLogger('info', false, sink),
      env: { WORKER_METRICS_PORT: '0', LAKESYNC_SEARCH_CONCURRENCY: '2', LAKESYNC_SEARCH_TIMEOUT_MS: '1500' },
    });
    // Behind a proxy on 127.0.0.1: its forwarded host and scheme are believed. No worker: only the API is exercised.
    proxied = await startTestLakesync({ lake: 'filesystem', worker: 'separate', env: { LAKESYNC_TRUST_PROXY: 'loopback, 10.0.0.0/8' } });
    sql = postgres(ls.databaseUrl, { max: 2, onnotice: () => undefined });
    dir = await mkdtemp(join(tmpdir(), 'lakesync-hostile-urls-'));
  });
  afterAll(async () => {
    await sql?.end();
    await proxied?.stop();
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a signed URL dies with its bucket: a bucket of the same name created again by another organisation never serves its bytes', async () => {
    const a = await ls.token({ org: 'org-a' });
    const b = await ls.token({ org: 'org-b' });
    const as = { authorization: `Bearer ${a}` };
    const bs = { authorization: `Bearer ${b}` };
    const name = unique('reused');

    expect((await call(ls.url, 'POST', '/admin/buckets', { name }, as)).status).toBe(201);
    await putObject(ls.url, a, name, 'k.txt', 'bytes of org A');
    const signed = await call(ls.url, 'GET', `/${name}/objects/k.txt/url`, undefined, as);
    expect(signed.status).toBe(200);
    const first = await fetch(signed.body.url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('bytes of org A');

    // A removes the object, the bucket's push source and the bucket.
    expect((await fetch(`${ls.url}/${name}/k.txt`, { method: 'DELETE', headers: as })).status).toBe(204);
    const sources = await call(ls.url, 'GET', `/${name}/sources`, undefined, as);
    for (const s of sources.body.sources as { sourceId: string }[])
      expect((await call(ls.url, 'DELETE', `/${name}/sources/${s.sourceId}`, undefined, as)).status).toBe(204);
    expect((await call(ls.url, 'DELETE', `/admin/buckets/${name}`, undefined, as)).status).toBe(204);

    // While no bucket has the name, the URL is refused as a bad signature, saying nothing about which names exist.
    const orphan = await fetch(signed.body.url);
    expect(orphan.status).toBe(403);
    expect(await orphan.json()).toMatchObject({ code: 'PERMISSION_DENIED', details: [{ field: 'signature' }] });

    expect((await call(ls.url, 'POST', '/admin/buckets', { name }, bs)).status).toBe(201);
    await putObject(ls.url, b, name, 'k.txt', 'bytes of org B');
    for (const method of ['GET', 'HEAD']) {
      const replay = await fetch(signed.body.url, { method });
      expect(replay.status).toBe(403);
      if (method === 'GET') {
        const text = await replay.text();
        expect(text).not.toContain('org B');
        expect(JSON.parse(text)).toMatchObject({ code: 'PERMISSION_DENIED', details: [{ field: 'signature', problem: 'signature does not match' }] });
      }
    }
    // B's own URL for the same name and key works.
    const mine = await call(ls.url, 'GET', `/${name}/objects/k.txt/url`, undefined, bs);
    expect(await (await fetch(mine.body.url)).text()).toBe('bytes of org B');
  });

  it('signs URLs for the address the API listens on, never a client-chosen Host or X-Forwarded-Host; a trusted proxy forwards its own', async () => {
    const bucket = unique('origins');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const token = await ls.token();
    await putObject(ls.url, token, bucket, 'o.txt', 'origin');
    const auth = { authorization: `Bearer ${token}` };
    const path = `/${bucket}/objects/o.txt/url`;

    const spoofs: Record<string, string>[] = [
      { host: 'evil.example.com' },
      { host: 'evil.example.com', 'x-forwarded-host': 'evil.example.com', 'x-forwarded-proto': 'https' },
    ];
    for (const headers of spoofs) {
      const res = await rawGet(ls.url, path, { ...auth, ...headers });
      expect(res.status).toBe(200);
      expect(new URL(res.body.url as string).origin).toBe(ls.url);
      expect(res.body.url).not.toContain('evil');
      expect(await (await fetch(res.body.url as string)).text()).toBe('origin');
    }

    // The proxy (127.0.0.1 is in LAKESYNC_TRUST_PROXY): X-Forwarded-Host and -Proto, else its Host.
    const pb = unique('proxied');
    const pt = await proxied.token();
    const pauth = { authorization: `Bearer ${pt}` };
    expect((await call(proxied.url, 'POST', '/admin/buckets', { name: pb }, pauth)).status).toBe(201);
    await putObject(proxied.url, pt, pb, 'p.txt', 'proxied');
    const ppath = `/${pb}/objects/p.txt/url`;
    const forwarded = await rawGet(proxied.url, ppath, {
      ...pauth,
      host: 'internal:8080',
      'x-forwarded-host': 'files.example.com',
      'x-forwarded-proto': 'https',
    });
    expect(forwarded.status).toBe(200);
    expect(forwarded.body.url).toMatch(new RegExp(`^https://files\\.example\\.com/${pb}/p\\.txt\\?`));
    const hostOnly = await rawGet(proxied.url, ppath, { ...pauth, host: 'lake.example.com:8443' });
    expect(hostOnly.body.url).toMatch(new RegExp(`^http://lake\\.example\\.com:8443/${pb}/p\\.txt\\?`));
    // A forwarded host that is not a host (user info, a path) is not used: the listening address is.
    for (const bad of ['user@evil.example.com', 'evil.example.com/phish', 'evil.example.com?x=1']) {
      const res = await rawGet(proxied.url, ppath, { ...pauth, 'x-forwarded-host': bad });
      expect(res.status).toBe(200);
      expect(new URL(res.body.url as string).origin).toBe(proxied.url);
    }
  });

  it('never logs a signature, a token or a secret-looking query parameter, but does log the path', async () => {
    const bucket = unique('logged');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    await putObject(ls.url, await ls.token(), bucket, 'secret/report.txt', 'logged');
    const signed = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('secret/report.txt')}/url`);
    const url = new URL(signed.body.url as string);
    const signature = url.searchParams.get('X-Lakesync-Signature')!;
    expect(signature.length).toBeGreaterThan(20);
    expect((await fetch(url)).status).toBe(200);
    // A tampered signature is refused (a warn line) and a valid one for a missing object is a 404: neither is logged.
    const wrong = signature.slice(0, -4) + (signature.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(
      (await fetch(`${ls.url}${url.pathname}?X-Lakesync-Expires=${url.searchParams.get('X-Lakesync-Expires')}&X-Lakesync-Signature=${wrong}`)).status,
    ).toBe(403);

    const canaries = {
      token: `tok-${randomBytes(8).toString('hex')}`,
      amz: `amz-${randomBytes(8).toString('hex')}`,
      key: `key-${randomBytes(8).toString('hex')}`,
      cred: `cred-${randomBytes(8).toString('hex')}`,
    };
    const hostile = await fetch(
      `${ls.url}/${bucket}/objects?access_token=${canaries.token}&X-Amz-Signature=${canaries.amz}&api_key=${canaries.key}&X-Amz-Credential=${canaries.cred}&prefix=visible-prefix`,
    );
    expect(hostile.status).toBe(401);

    await waitFor('the request lines to be written', async () => logs.includes('visible-prefix') && logs.includes(`/${bucket}/secret/report.txt`));
    for (const secret of [signature, wrong, ...Object.values(canaries)]) expect(logs).not.toContain(secret);
    expect(logs).toContain('X-Lakesync-Signature=[redacted]');
    expect(logs).toContain('[redacted]');
  });

  it('logs, stores and fails activities on failed queries without their parameters (sealed credentials among them)', async () => {
    const db = createDb(ls.databaseUrl, 1);
    try {
      const canary = `sealed-${randomBytes(12).toString('hex')}`;
      const [bucket] = await db
        .insert(buckets)
        .values({ id: `bkt_${randomBytes(6).toString('hex')}`, name: unique('failing') })
        .returning();
      const failing = {
        // A foreign key that does not exist, and a NOT NULL column left null (Postgres then reports the whole row in `detail`).
        'missing bucket': () =>
          db.insert(sources).values({
            id: 'src_fk',
            bucketId: 'bkt_missing',
            name: 'n',
            kind: 's3',
            connection: { s3: { bucket: 'b', region: 'r' } } as never,
            sealedCredentials: canary,
            workflowId: 'w',
          }),
        'null name': () =>
          db.execute(
            drizzleSql`insert into sources (id, bucket_id, name, kind, connection, sealed_credentials, workflow_id) values ('src_nn', ${bucket!.id}, null, 's3', '{}', ${canary}, 'w')`,
          ),
      };
      for (const [what, query] of Object.entries(failing)) {
        const err = await query().then(
          () => null,
          (e: unknown) => e,
        );
        // The hazard is real: drizzle puts the parameters into the message.
        expect(err, what).toBeInstanceOf(DrizzleQueryError);
        expect((err as Error).message).toContain(canary);

        // Loggers: ours, and any other once the runtime has wrapped it.
        let out = '';
        const sink = new Writable({ write: (chunk, _enc, done) => ((out += chunk.toString()), done()) });
        createLogger('info', false, sink).error({ err }, 'query failed');
        withSafeSerializers(pino({ level: 'info' }, sink)).warn({ error: err }, 'query failed');
        expect(out, what).not.toContain(canary);
        expect(out).toContain('insert into');
        expect(out).toContain('params: [redacted]');
        // Stored error texts (dead letters, pipeline runs) shown by the API.
        expect(safeErrorText(err)).not.toContain(canary);

        // An activity whose query fails: the failure Temporal records (message, stack, causes) carries no parameter.
        const sdkLines: LogEntry[] = [];
        const env = new MockActivityEnvironment(
          {},
          { interceptors: [activityFailureScrub], logger: new DefaultLogger('WARN', (entry) => sdkLines.push(entry)) },
        );
        const thrown = await env.run(query).then(
          () => null,
          (e: unknown) => e,
        );
        expect(thrown).toBeInstanceOf(Error);
        const failure = JSON.stringify(new DefaultFailureConverter().errorToFailure(thrown, defaultPayloadConverter));
        expect(failure, what).not.toContain(canary);
        expect(failure).toContain('Failed query: insert into');
        expect(JSON.stringify(thrown)).not.toContain(canary);
        // The SDK's own "Activity failed" line got the scrubbed error too.
        const logged = sdkLines.find((l) => l.message === 'Activity failed')?.meta?.error as Error | undefined;
        expect(logged?.message).toContain('Failed query');
        expect(`${logged?.message} ${logged?.stack}`).not.toContain(canary);
      }
    } finally {
      await closeDb(db);
    }
  });

  it('keeps source ids and bucket names off the API /metrics in a process that is both API and worker', async () => {
    const bucket = unique('metered');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    await writeFile(join(dir, 'a.txt'), 'metered');
    const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'watched',
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 86400,
    });
    expect(src.status).toBe(201);
    const sourceId = src.body.sourceId as string;
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect((await waitForJob(ls.url, bucket, sourceId, run.body.jobId as string)).job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsProcessed: 1 });

    // The worker's own endpoint has them (so the check below could fail)...
    const worker = await scrape(ls.runtime.metricsUrl!);
    expect(has(worker, 'lakesync_objects_synced_total', { source_id: sourceId })).toBe(true);
    expect(has(worker, 'lakesync_discovery_lag_seconds', { bucket, source_id: sourceId })).toBe(true);
    // ...the unauthenticated API endpoint, in the same process, does not.
    const api = await fetch(`${ls.url}/metrics`);
    expect(api.status).toBe(200);
    const text = await api.text();
    expect(text).toContain('lakesync_http_requests_total');
    expect(text).not.toContain(sourceId);
    expect(text).not.toContain(bucket);
    expect(text).not.toContain('source_id');
    expect(text).not.toContain('lakesync_objects_synced_total');
  });

  describe('search', () => {
    const bucket = unique('searched');
    const search = (query: string) => call(ls.url, 'POST', `/${bucket}/search`, { query });

    beforeAll(async () => {
      expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
      expect((await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' })).status).toBe(201);
    });

    it('refuses queries past the complexity limits with 400 naming query, and answers those within them', async () => {
      const words = (n: number, f = (i: number) => `w${i}`) => Array.from({ length: n }, (_, i) => f(i)).join(' ');
      const cases: [string, RegExp][] = [
        ['x'.repeat(513), /at most 512 characters/],
        [words(33), /more than 32 terms/],
        [words(9, (i) => `-w${i}`), /more than 8 excluded/],
        [words(9, (i) => `"p${i} q"`), /more than 8 quoted phrases/],
        [words(10, (i) => `w${i} or`), /more than 8 "or"/],
        // Punctuation splits one "word" into many lexemes: counted as such.
        [Array.from({ length: 40 }, (_, i) => `a${i}`).join('-'), /more than 32 terms/],
      ];
      for (const [query, problem] of cases) {
        const res = await search(query);
        expect(res.status, query).toBe(400);
        expect(res.body).toMatchObject({ code: 'INVALID_ARGUMENT', details: [{ field: 'query' }] });
        expect(res.body.details[0].problem).toMatch(problem);
      }
      for (const query of [words(32), words(8, (i) => `-w${i}`) + ' keep', words(8, (i) => `"p${i} q"`), 'a or b or c']) {
        expect((await search(query)).status, query).toBe(200);
      }
    });

    it('cancels a search that runs past its statement timeout with 503, and answers 503 with Retry-After while the search slots are taken', async () => {
      // Another organisation with an index of its own.
      const otherToken = await ls.token({ org: 'other-searcher' });
      const otherBucket = unique('kb-other');
      const asOther = { authorization: `Bearer ${otherToken}` };
      expect((await call(ls.url, 'POST', '/admin/buckets', { name: otherBucket }, asOther)).status).toBe(201);
      expect((await call(ls.url, 'POST', `/${otherBucket}/pipelines`, { name: 'text', kind: 'fulltext' }, asOther)).status).toBe(201);
      // A lock on the index holds every search on it for as long as we like: slow without depending on data or speed.
      const locker = await sql.reserve();
      try {
        await locker`begin`;
        await locker`lock table fulltext_documents in access exclusive mode`;
        const held = search('held');
        await waitFor('the search to wait on the lock', async () => {
          const [row] =
            await sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%websearch_to_tsquery%'`;
          return row!.n > 0;
        });
        // This organisation's one slot (half of LAKESYNC_SEARCH_CONCURRENCY=2) is taken: answered at once, without a connection.
        const busy = await fetch(`${ls.url}/${bucket}/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await ls.token()}` },
          body: JSON.stringify({ query: 'busy' }),
        });
        expect(busy.status).toBe(503);
        expect(busy.headers.get('retry-after')).toBe('1');
        expect(await busy.json()).toMatchObject({ code: 'UNAVAILABLE', details: [{ field: 'query' }] });
        // Another organisation still gets a slot: its search runs (and waits on the lock until its own timeout).
        const other = await call(ls.url, 'POST', `/${otherBucket}/search`, { query: 'theirs' }, asOther);
        expect(other.body).toMatchObject({ code: 'UNAVAILABLE', details: [{ field: 'query', problem: 'took more than 1500 ms to search; narrow it' }] });
        // The held search hits LAKESYNC_SEARCH_TIMEOUT_MS and is cancelled by Postgres.
        const timedOut = await held;
        expect(timedOut.status).toBe(503);
        expect(timedOut.body).toMatchObject({ code: 'UNAVAILABLE', details: [{ field: 'query', problem: 'took more than 1500 ms to search; narrow it' }] });
      } finally {
        await locker`rollback`;
        locker.release();
      }
      // The slot and the connection are back.
      expect((await search('free')).status).toBe(200);
    });
  });
});
