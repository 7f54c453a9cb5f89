/**
 * Tenant isolation on every bucket-scoped route: with another organisation's
 * token, a victim's bucket, pipeline, rule, job, source, upload sync or object
 * answers exactly what a name or id that does not exist answers (same status,
 * same body once the name is swapped), search finds nothing of theirs, and
 * nothing in the database or the lake changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import postgres from 'postgres';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

/** A probe sent twice: once naming the victim's thing (`real`), once a thing that does not exist (`fake`). */
interface Probe {
  what: string;
  method: string;
  path: (x: string) => string;
  body?: (x: string) => unknown;
  multipart?: boolean;
  real: () => string;
  fake: () => string;
  status: number;
}

/** An id of the same shape as `id` that no row has. */
const absent = (id: string) => `${id.slice(0, -8)}zzzzzzzz`;
const enc = encodeURIComponent;

describe('tenant isolation', () => {
  let ls: TestLakesync;
  let sql: postgres.Sql;
  let attacker: Record<string, string>;
  const dirs: string[] = [];
  const victimBucket = unique('victim');
  const attackerBucket = unique('attacker');
  const victimKey = 'docs/secret.txt';
  const victimText = 'confidential zanzibar merger plans';
  const v = { pipelineId: '', ruleId: '', sourceId: '', jobId: '', syncId: '', objectId: '' };
  const a = { pipelineId: '', ruleId: '', sourceId: '' };

  /** One request with a given token, its answer kept as text so two answers compare exactly. */
  const send = async (token: Record<string, string>, method: string, path: string, body?: unknown, multipart = false): Promise<Answer> => {
    let payload: RequestInit['body'];
    const headers: Record<string, string> = { ...token };
    if (multipart) {
      const form = new FormData();
      form.append('file', new Blob(['stolen'], { type: 'text/plain' }), 'planted.txt');
      payload = form;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(ls.url + path, { method, headers, body: payload });
    return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  };

  /** Every row of every table a request could touch, as one comparable value. */
  const database = async () =>
    sql`select 'buckets' t, count(*)::int n, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) h from buckets x
        union all select 'sources', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from sources x
        union all select 'source_objects', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from source_objects x
        union all select 'jobs', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from jobs x
        union all select 'pipelines', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from pipelines x
        union all select 'rules', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from rules x
        union all select 'upload_syncs', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from upload_syncs x
        union all select 'upload_files', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from upload_files x
        union all select 'object_pipeline_runs', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from object_pipeline_runs x
        union all select 'fulltext_documents', count(*)::int, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from fulltext_documents x`;

  /** Every file in the directory lake with a hash of its bytes. */
  const lake = async () => {
    const root = (ls.lake as { dir: string }).dir;
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else
          out.push(
            `${relative(root, p)} ${createHash('sha256')
              .update(await readFile(p))
              .digest('hex')}`,
          );
      }
    };
    await walk(root);
    return out.sort();
  };

  /** Every source of the database has finished its last job: nothing changes the rows behind the test's back. */
  const settled = () =>
    waitFor('every source to be idle', async () => {
      const busy = await sql`select id from sources where current_job_id is not null`;
      const open = await sql`select id from jobs where status in ('JOB_STATUS_PENDING', 'JOB_STATUS_RUNNING')`;
      // Arrived objects not yet taken by a job (the controller is woken at most every 200 ms) count as work too.
      const owed = await sql`select id from source_objects where status = 'pending' or pending_job_id is not null or process_job_id is not null`;
      return busy.length === 0 && open.length === 0 && owed.length === 0;
    });

  const dirWith = async (name: string, text: string) => {
    const d = await mkdtemp(join(tmpdir(), 'lakesync-isolation-'));
    dirs.push(d);
    await writeFile(join(d, name), text);
    return d;
  };

  /** A bucket with a fulltext pipeline over *.txt, a rule, an indexed PUT object and a synced filesystem source. */
  const tenant = async (token: Record<string, string>, bucket: string, key: string, text: string) => {
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket }, token)).status).toBe(201);
    const pipe = await call(ls.url, 'POST', `/${bucket}/pipelines`, { name: 'text', kind: 'fulltext' }, token);
    const rule = await call(
      ls.url,
      'POST',
      `/${bucket}/rules`,
      { name: 'txt', pipelineIds: [pipe.body.pipelineId], match: { includePatterns: ['*.txt'] } },
      token,
    );
    expect(rule.status).toBe(201);
    const put = await fetch(`${ls.url}/${bucket}/${key}`, { method: 'PUT', body: text, headers: { ...token, 'content-type': 'text/plain' } });
    expect(put.status).toBe(200);
    const dir = await dirWith('pulled.txt', `${text} (pulled)`);
    const source = await call(
      ls.url,
      'POST',
      `/${bucket}/sources`,
      { name: 'pulled', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600 },
      token,
    );
    expect(source.status).toBe(201);
    const run = await call(ls.url, 'POST', `/${bucket}/sources/${source.body.sourceId}/discover`, {}, token);
    await waitFor(
      `job ${run.body.jobId}`,
      async () => (await call(ls.url, 'GET', `/${bucket}/sources/${source.body.sourceId}/sync`, undefined, token)).body.lastJobId === run.body.jobId,
    );
    expect((await call(ls.url, 'GET', `/${bucket}/jobs/${run.body.jobId}`, undefined, token)).body.status).toBe('JOB_STATUS_SUCCEEDED');
    await waitFor(
      `${bucket}/${key} indexed`,
      async () => (await call(ls.url, 'GET', `/${bucket}/objects/${enc(key)}/info`, undefined, token)).body.indexed === true,
    );
    return {
      pipelineId: pipe.body.pipelineId as string,
      ruleId: rule.body.ruleId as string,
      sourceId: source.body.sourceId as string,
      jobId: run.body.jobId as string,
    };
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    sql = postgres(ls.databaseUrl, { max: 1, onnotice: () => undefined });
    const victim = { authorization: `Bearer ${await ls.token({ org: 'victim' })}` };
    attacker = { authorization: `Bearer ${await ls.token({ org: 'other' })}` };
    Object.assign(v, await tenant(victim, victimBucket, victimKey, victimText));
    Object.assign(a, await tenant(attacker, attackerBucket, 'notes/mine.txt', 'attacker notes about zanzibar'));
    const sync = await call(ls.url, 'POST', `/${victimBucket}/uploads`, { name: 'victim upload', path: 'up', syncType: 'FULL' }, victim);
    expect(sync.status).toBe(201);
    v.syncId = sync.body.syncId;
    const form = new FormData();
    form.append('file', new Blob(['victim upload about zanzibar'], { type: 'text/plain' }), 'report.txt');
    expect((await fetch(`${ls.url}/${victimBucket}/uploads/${v.syncId}/files`, { method: 'POST', body: form, headers: victim })).status).toBe(200);
    v.objectId = (await sql`select id from source_objects where source_id = ${v.sourceId}`)[0]!.id;
    // The victim finds all of it.
    await waitFor(
      "the victim's documents indexed",
      async () => (await call(ls.url, 'POST', `/${victimBucket}/search`, { query: 'zanzibar' }, victim)).body.results.length === 3,
    );
  });
  afterAll(async () => {
    await sql?.end();
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  // The victim's bucket named outright: 404, exactly as for a bucket name nobody has.
  const inVictimBucket = (what: string, method: string, path: (b: string) => string, body?: () => unknown, multipart = false): Probe => ({
    what,
    method,
    path,
    body: body && (() => body()),
    multipart,
    real: () => victimBucket,
    fake: () => unique('victim'),
    status: 404,
  });
  // The victim's ids used inside the attacker's own bucket: answered as for ids that do not exist.
  const inOwnBucket = (
    what: string,
    method: string,
    path: (id: string) => string,
    id: () => string,
    status: number,
    body?: (id: string) => unknown,
    multipart = false,
  ): Probe => ({
    what,
    method,
    path,
    body,
    multipart,
    real: id,
    fake: () => absent(id()),
    status,
  });

  const probes: Probe[] = [
    // The bucket itself.
    inVictimBucket('get the bucket', 'GET', (b) => `/admin/buckets/${b}`),
    inVictimBucket('delete the bucket', 'DELETE', (b) => `/admin/buckets/${b}`),
    // Pipelines and rules.
    inVictimBucket('list pipelines', 'GET', (b) => `/${b}/pipelines`),
    inVictimBucket(
      'create a pipeline',
      'POST',
      (b) => `/${b}/pipelines`,
      () => ({ name: 'planted', kind: 'fulltext' }),
    ),
    inVictimBucket('get a pipeline', 'GET', (b) => `/${b}/pipelines/${v.pipelineId}`),
    inVictimBucket(
      'change a pipeline',
      'PATCH',
      (b) => `/${b}/pipelines/${v.pipelineId}`,
      () => ({ enabled: false }),
    ),
    inVictimBucket('delete a pipeline', 'DELETE', (b) => `/${b}/pipelines/${v.pipelineId}`),
    inVictimBucket('list rules', 'GET', (b) => `/${b}/rules`),
    inVictimBucket(
      'create a rule',
      'POST',
      (b) => `/${b}/rules`,
      () => ({ name: 'planted', pipelineIds: [v.pipelineId] }),
    ),
    inVictimBucket('get a rule', 'GET', (b) => `/${b}/rules/${v.ruleId}`),
    inVictimBucket(
      'change a rule',
      'PATCH',
      (b) => `/${b}/rules/${v.ruleId}`,
      () => ({ match: { includePatterns: ['*'] } }),
    ),
    inVictimBucket('delete a rule', 'DELETE', (b) => `/${b}/rules/${v.ruleId}`),
    inVictimBucket(
      'search',
      'POST',
      (b) => `/${b}/search`,
      () => ({ query: 'zanzibar' }),
    ),
    // Upload syncs.
    inVictimBucket(
      'start an upload sync',
      'POST',
      (b) => `/${b}/uploads`,
      () => ({ name: 'planted', path: 'up', syncType: 'FULL' }),
    ),
    inVictimBucket('list upload syncs', 'GET', (b) => `/${b}/uploads`),
    inVictimBucket('upload history', 'GET', (b) => `/${b}/uploads/history?syncId=${v.syncId}`),
    inVictimBucket('upload files', 'POST', (b) => `/${b}/uploads/${v.syncId}/files`, undefined, true),
    inVictimBucket(
      'end an upload sync',
      'POST',
      (b) => `/${b}/uploads/${v.syncId}/end`,
      () => ({}),
    ),
    inVictimBucket(
      'restore an upload sync',
      'POST',
      (b) => `/${b}/uploads/${v.syncId}/restore`,
      () => ({}),
    ),
    // Objects: list, info, url, admin delete, and the byte plane.
    inVictimBucket('list objects', 'GET', (b) => `/${b}/objects?prefix=docs/`),
    inVictimBucket('object info', 'GET', (b) => `/${b}/objects/${enc(victimKey)}/info`),
    inVictimBucket('object url', 'GET', (b) => `/${b}/objects/${enc(victimKey)}/url`),
    inVictimBucket('admin delete', 'DELETE', (b) => `/${b}/objects/${enc(victimKey)}`),
    inVictimBucket('byte-plane GET', 'GET', (b) => `/${b}/${victimKey}`),
    inVictimBucket('byte-plane HEAD', 'HEAD', (b) => `/${b}/${victimKey}`),
    inVictimBucket(
      'byte-plane PUT over an object',
      'PUT',
      (b) => `/${b}/${victimKey}`,
      () => 'overwritten',
    ),
    inVictimBucket(
      'byte-plane PUT of a new object',
      'PUT',
      (b) => `/${b}/planted.txt`,
      () => 'planted',
    ),
    inVictimBucket('byte-plane DELETE', 'DELETE', (b) => `/${b}/${victimKey}`),
    // Jobs and dead letters.
    inVictimBucket('list jobs', 'GET', (b) => `/${b}/jobs?source_id=${v.sourceId}`),
    inVictimBucket('get a job', 'GET', (b) => `/${b}/jobs/${v.jobId}`),
    inVictimBucket('dead letters', 'GET', (b) => `/${b}/sources/${v.sourceId}/dead-letters`),
    inVictimBucket('source objects', 'GET', (b) => `/${b}/sources/${v.sourceId}/objects`),

    // The victim's ids inside the attacker's own bucket.
    inOwnBucket(
      'their pipeline',
      'GET',
      (id) => `/${attackerBucket}/pipelines/${id}`,
      () => v.pipelineId,
      404,
    ),
    inOwnBucket(
      'change their pipeline',
      'PATCH',
      (id) => `/${attackerBucket}/pipelines/${id}`,
      () => v.pipelineId,
      404,
      () => ({ enabled: false }),
    ),
    inOwnBucket(
      'delete their pipeline',
      'DELETE',
      (id) => `/${attackerBucket}/pipelines/${id}`,
      () => v.pipelineId,
      404,
    ),
    inOwnBucket(
      'their rule',
      'GET',
      (id) => `/${attackerBucket}/rules/${id}`,
      () => v.ruleId,
      404,
    ),
    inOwnBucket(
      'change their rule',
      'PATCH',
      (id) => `/${attackerBucket}/rules/${id}`,
      () => v.ruleId,
      404,
      () => ({ enabled: false }),
    ),
    inOwnBucket(
      'delete their rule',
      'DELETE',
      (id) => `/${attackerBucket}/rules/${id}`,
      () => v.ruleId,
      404,
    ),
    inOwnBucket(
      'a rule routing to their pipeline',
      'POST',
      () => `/${attackerBucket}/rules`,
      () => v.pipelineId,
      400,
      (id) => ({ name: 'planted', pipelineIds: [id] }),
    ),
    inOwnBucket(
      'a rule matching their source',
      'POST',
      () => `/${attackerBucket}/rules`,
      () => v.sourceId,
      400,
      (id) => ({ name: 'planted', pipelineIds: [a.pipelineId], match: { sourceIds: [id] } }),
    ),
    inOwnBucket(
      'a rule changed to their pipeline',
      'PATCH',
      () => `/${attackerBucket}/rules/${a.ruleId}`,
      () => v.pipelineId,
      400,
      (id) => ({ pipelineIds: [id] }),
    ),
    inOwnBucket(
      'search their pipeline',
      'POST',
      () => `/${attackerBucket}/search`,
      () => v.pipelineId,
      400,
      (id) => ({ query: 'zanzibar', pipelineId: id }),
    ),
    inOwnBucket(
      'their job',
      'GET',
      (id) => `/${attackerBucket}/jobs/${id}`,
      () => v.jobId,
      404,
    ),
    inOwnBucket(
      'jobs of their source',
      'GET',
      (id) => `/${attackerBucket}/jobs?source_id=${id}`,
      () => v.sourceId,
      200,
    ),
    inOwnBucket(
      'their source',
      'GET',
      (id) => `/${attackerBucket}/sources/${id}`,
      () => v.sourceId,
      404,
    ),
    inOwnBucket(
      'their dead letters',
      'GET',
      (id) => `/${attackerBucket}/sources/${id}/dead-letters`,
      () => v.sourceId,
      404,
    ),
    inOwnBucket(
      'their source objects',
      'GET',
      (id) => `/${attackerBucket}/sources/${id}/objects`,
      () => v.sourceId,
      404,
    ),
    inOwnBucket(
      'ingest their object',
      'POST',
      () => `/${attackerBucket}/sources/${a.sourceId}/ingest`,
      () => v.objectId,
      404,
      (id) => ({ sourceObjectId: id }),
    ),
    inOwnBucket(
      're-run their rule',
      'POST',
      () => `/${attackerBucket}/sources/${a.sourceId}/ingest`,
      () => v.ruleId,
      400,
      (id) => ({ ruleId: id }),
    ),
    inOwnBucket(
      'upload to their sync',
      'POST',
      (id) => `/${attackerBucket}/uploads/${id}/files`,
      () => v.syncId,
      404,
      undefined,
      true,
    ),
    inOwnBucket(
      'end their sync',
      'POST',
      (id) => `/${attackerBucket}/uploads/${id}/end`,
      () => v.syncId,
      404,
      () => ({}),
    ),
    inOwnBucket(
      'restore their sync',
      'POST',
      (id) => `/${attackerBucket}/uploads/${id}/restore`,
      () => v.syncId,
      404,
      () => ({}),
    ),
    inOwnBucket(
      'history of their sync',
      'GET',
      (id) => `/${attackerBucket}/uploads/history?syncId=${id}`,
      () => v.syncId,
      200,
    ),
  ];

  it("answers another organisation's things exactly as things that do not exist, and changes nothing", async () => {
    await settled();
    const dbBefore = await database();
    const lakeBefore = await lake();
    expect(lakeBefore.some((l) => l.startsWith(`${victimBucket}/${victimKey} `))).toBe(true);

    for (const p of probes) {
      const real = p.real();
      const fake = p.fake();
      const send1 = (x: string) => send(attacker, p.method, p.path(x), p.body?.(x), p.multipart);
      const theirs = await send1(real);
      const nobodys = await send1(fake);
      expect(theirs.status, `${p.what}: ${theirs.text}`).toBe(p.status);
      expect(theirs.status, p.what).toBe(nobodys.status);
      expect(theirs.contentType, p.what).toBe(nobodys.contentType);
      // Same answer, word for word, once the name asked for is swapped back.
      expect(theirs.text, p.what).toBe(nobodys.text.replaceAll(fake, real));
      if (p.status === 404 && p.method !== 'HEAD') expect(JSON.parse(theirs.text), p.what).toMatchObject({ code: 'NOT_FOUND', details: [] });
    }

    await settled();
    expect(await database()).toEqual(dbBefore);
    expect(await lake()).toEqual(lakeBefore);
  });

  it("searches only the caller's own index", async () => {
    const search = async (query: string) => {
      const res = await call(ls.url, 'POST', `/${attackerBucket}/search`, { query }, attacker);
      expect(res.status).toBe(200);
      return res.body.results.map((r: { key: string }) => r.key);
    };
    // The attacker's own document is found, so the index is really searched.
    expect((await search('zanzibar')).sort()).toEqual(['notes/mine.txt', 'pulled.txt']);
    expect(await search('confidential')).toEqual([]);
    expect(await search('merger or plans or upload')).toEqual([]);
  });
});
