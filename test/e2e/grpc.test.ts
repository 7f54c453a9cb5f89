/**
 * K3's Sync RPCs over gRPC, driven with grpcurl (infra/grpcurl.ts) through
 * server reflection as K3's documentation drives them: the service is listed
 * and described, each RPC answers what its HTTP route answers for the same
 * source, and refusals carry the HTTP route's message under the matching gRPC
 * status. Unknown fields and oversized messages are sent as raw bytes with
 * @grpc/grpc-js, since grpcurl refuses to send either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { connect } from 'node:net';
import { loadIngestProto } from '../../api/grpc/server.js';
import { startApiProcess } from '../../infra/worker-process.js';

const SERVICE = 'dodil.k3.ingest.v1.IngestService';

interface GrpcurlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The HTTP answer as grpcurl renders the gRPC one: proto3 has no null, so an absent optional field is left out. */
const withoutNulls = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));

describe('K3 over gRPC', () => {
  let ls: TestLakesync;
  let stopped = false;
  let dir: string;
  const bucket = unique('grpc');
  let sourceId: string;
  let token: string;
  const grpcurlBin = inject('infra').grpcurl;

  /** grpcurl against lakesync, plaintext; `-emit-defaults` so false and 0 show as the HTTP JSON shows them. */
  const grpcurl = (args: string[], o: { token?: string | null; data?: unknown } = {}): Promise<GrpcurlResult> => {
    const auth = o.token === null ? [] : ['-H', `authorization: Bearer ${o.token ?? token}`];
    const data = o.data === undefined ? [] : ['-d', JSON.stringify(o.data)];
    return new Promise((resolve) =>
      execFile(grpcurlBin, ['-plaintext', '-emit-defaults', ...auth, ...data, ls.runtime.grpcAddress!, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ exitCode: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
      ),
    );
  };
  const rpc = async (method: string, data: unknown, o: { token?: string | null } = {}) => {
    const r = await grpcurl([`${SERVICE}/${method}`], { ...o, data });
    if (r.exitCode !== 0) throw new Error(`grpcurl ${method} exited ${r.exitCode}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  /** grpcurl prints a failed RPC's status as `Code: NotFound` / `Message: …`. */
  const refusal = async (method: string, data: unknown, o: { token?: string | null } = {}) => {
    const r = await grpcurl([`${SERVICE}/${method}`], { ...o, data });
    expect(r.exitCode, r.stdout).not.toBe(0);
    return { code: /Code: (\w+)/.exec(r.stderr)?.[1], message: /Message: (.*)/.exec(r.stderr)?.[1] };
  };

  /** A dry run is never the source's last sync, so its end shows on the job only. */
  const jobEnd = (jobId: string) =>
    waitFor(`job ${jobId}`, async () => {
      const job = await call(ls.url, 'GET', `/${bucket}/jobs/${jobId}`);
      return /SUCCEEDED|PARTIAL|FAILED|CANCELED/.test(String(job.body.status)) && job.body;
    });

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    token = await ls.token();
    dir = await mkdtemp(join(tmpdir(), 'lakesync-grpc-'));
    await writeFile(join(dir, 'a.txt'), 'over grpc');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, { name: 'src', kind: 'filesystem', filesystem: { path: dir }, syncIntervalSeconds: 3600 });
    expect(created.status).toBe(201);
    sourceId = created.body.sourceId;
    // One sync, then the controller waits an hour for its next poll: the status stands still while the tests compare it.
    const first = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(first.status).toBe(200);
    await waitForJob(ls.url, bucket, sourceId, first.body.jobId);
    await waitFor('the controller to settle', async () => {
      const s = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`);
      return !s.body.currentJobId && !s.body.queuedJobId && s.body.live;
    });
  }, 300_000);

  afterAll(async () => {
    if (!stopped) await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists and describes IngestService through server reflection', async () => {
    const list = await grpcurl(['list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')).toContain(SERVICE);
    const methods = await grpcurl(['list', SERVICE]);
    expect(methods.stdout.trim().split('\n').sort()).toEqual([`${SERVICE}.GetSyncStatus`, `${SERVICE}.TriggerDiscovery`, `${SERVICE}.TriggerIngestion`]);
    const described = await grpcurl(['describe', 'dodil.k3.ingest.v1.TriggerDiscoveryRequest']);
    expect(described.exitCode, described.stderr).toBe(0);
    // K3's field names: the proto's own, snake_case.
    expect(described.stdout).toContain('string source_id = 2;');
    expect(described.stdout).toContain('bool full_sync = 3;');
    const ingest = await grpcurl(['describe', 'dodil.k3.ingest.v1.TriggerIngestionRequest']);
    expect(ingest.stdout).toContain('optional string rule_id = 5;');
  });

  it('GetSyncStatus answers what GET …/sync answers', async () => {
    const grpc = await rpc('GetSyncStatus', { bucket, source_id: sourceId });
    const http = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`);
    expect(http.status).toBe(200);
    expect(grpc).toEqual(withoutNulls(http.body));
    // int64 counters and timestamps as strings, the status by name, as K3 and the HTTP API write them.
    expect(grpc).toMatchObject({ status: 'SOURCE_STATUS_ACTIVE', objectsDiscovered: '1', live: true });
  });

  it('TriggerDiscovery starts a job, as POST …/discover does, with the request in K3 field names', async () => {
    const grpc = await rpc('TriggerDiscovery', { bucket, source_id: sourceId, full_sync: true, dry_run: true });
    expect(grpc).toMatchObject({ accepted: true });
    expect(grpc.jobId).toMatch(/^job_/);
    const job = await jobEnd(String(grpc.jobId));
    // The snake_case flags took effect: a dry run, by API.
    expect(job).toMatchObject({ kind: 'discovery', trigger: 'api', dryRun: true, status: 'JOB_STATUS_SUCCEEDED' });

    const http = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, { fullSync: true, dryRun: true });
    expect(http.status).toBe(200);
    await jobEnd(http.body.jobId);
    expect(Object.keys(grpc).sort()).toEqual(Object.keys(http.body).sort());
    expect({ ...grpc, jobId: 'x' }).toEqual({ ...http.body, jobId: 'x' });
  });

  it('TriggerIngestion answers what POST …/ingest answers', async () => {
    const grpc = await rpc('TriggerIngestion', { bucket, source_id: sourceId, retry_failed: true });
    const http = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { retryFailed: true });
    expect(http.status).toBe(200);
    expect(grpc).toEqual(withoutNulls(http.body));
    expect(grpc).toMatchObject({ accepted: true, dispatched: 0 });
  });

  it('refuses a bad field with INVALID_ARGUMENT naming it, as HTTP does', async () => {
    const noRule = await refusal('TriggerIngestion', { bucket, source_id: sourceId, rule_id: 'rule_nope' });
    const http = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { ruleId: 'rule_nope' });
    expect(http.status).toBe(400);
    expect(noRule).toEqual({ code: 'InvalidArgument', message: http.body.message });
    expect(noRule.message).toMatch(/^ruleId: /);

    // Present but empty: proto3 optional keeps the difference from absent, so it is refused like "" over HTTP.
    const empty = await refusal('TriggerIngestion', { bucket, source_id: sourceId, source_object_id: '' });
    expect(empty.code).toBe('InvalidArgument');
    expect(empty.message).toMatch(/^sourceObjectId: /);

    // A sourceObjectId the source does not hold: NOT_FOUND naming it, as HTTP answers 404.
    const noObject = await refusal('TriggerIngestion', { bucket, source_id: sourceId, source_object_id: 'sobj_nope' });
    const httpNoObject = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { sourceObjectId: 'sobj_nope' });
    expect(httpNoObject.status).toBe(404);
    expect(noObject).toEqual({ code: 'NotFound', message: httpNoObject.body.message });
    expect(noObject.message).toContain('sobj_nope');

    const nul = await refusal('GetSyncStatus', { bucket: `${bucket}\u0000x`, source_id: sourceId });
    expect(nul).toEqual({ code: 'InvalidArgument', message: `bucket: must not contain control characters (U+0000 NUL at character ${bucket.length})` });
    const esc = await refusal('TriggerDiscovery', { bucket, source_id: `${sourceId}\u001b[2J` });
    expect(esc.code).toBe('InvalidArgument');
    expect(esc.message).toMatch(/^sourceId: must not contain control characters \(U\+001B ESC/);

    const missing = await refusal('GetSyncStatus', { source_id: sourceId });
    expect(missing.code).toBe('InvalidArgument');
    expect(missing.message).toMatch(/^bucket: /);
  });

  it("answers NOT_FOUND for another organisation's source, exactly as for one that does not exist", async () => {
    const other = await ls.token({ org: 'other-org' });
    const theirs = await refusal('GetSyncStatus', { bucket, source_id: sourceId }, { token: other });
    const http = await call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/sync`, undefined, { authorization: `Bearer ${other}` });
    expect(http.status).toBe(404);
    expect(theirs).toEqual({ code: 'NotFound', message: http.body.message });
    const none = await refusal('GetSyncStatus', { bucket: unique('nobody'), source_id: sourceId }, { token: other });
    expect(none.code).toBe('NotFound');
    expect(await refusal('TriggerDiscovery', { bucket, source_id: sourceId }, { token: other })).toEqual(theirs);
    // Their own source in their own bucket: the bucket is found, the source is not.
    const ownSource = await refusal('TriggerIngestion', { bucket, source_id: 'src_nope' });
    expect(ownSource).toEqual({ code: 'NotFound', message: 'source src_nope not found' });
  });

  it('answers UNAUTHENTICATED without a valid token and PERMISSION_DENIED without the scope', async () => {
    expect(await refusal('GetSyncStatus', { bucket, source_id: sourceId }, { token: null })).toEqual({
      code: 'Unauthenticated',
      message: 'authorization: missing bearer token',
    });
    const forged = await refusal('GetSyncStatus', { bucket, source_id: sourceId }, { token: `${token.slice(0, -4)}AAAA` });
    expect(forged).toEqual({ code: 'Unauthenticated', message: 'authorization: token signature is not valid' });

    const reader = await ls.token({ scope: 'read' });
    expect(await refusal('TriggerDiscovery', { bucket, source_id: sourceId }, { token: reader })).toEqual({
      code: 'PermissionDenied',
      message: 'authorization: token lacks the write scope',
    });
    expect(await refusal('TriggerIngestion', { bucket, source_id: sourceId }, { token: reader })).toMatchObject({ code: 'PermissionDenied' });
    // The read scope is all GetSyncStatus needs, as for GET …/sync.
    expect(await rpc('GetSyncStatus', { bucket, source_id: sourceId }, { token: reader })).toMatchObject({ sourceId });
    const writer = await ls.token({ scope: 'write' });
    expect(await refusal('GetSyncStatus', { bucket, source_id: sourceId }, { token: writer })).toEqual({
      code: 'PermissionDenied',
      message: 'authorization: token lacks the read scope',
    });
  });

  describe('raw messages', () => {
    const method = loadIngestProto()[SERVICE] as unknown as Record<
      string,
      { path: string; requestSerialize: (o: object) => Buffer; responseDeserialize: (b: Buffer) => Record<string, unknown> }
    >;
    const send = (client: Client, name: string, bytes: Buffer, auth: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const metadata = new Metadata();
        metadata.set('authorization', `Bearer ${auth}`);
        client.makeUnaryRequest(
          method[name]!.path,
          (b: Buffer) => b,
          (b: Buffer) => method[name]!.responseDeserialize(b),
          bytes,
          metadata,
          (err: ServiceError | null, value?: Record<string, unknown>) => (err ? reject(err) : resolve(value!)),
        );
      });
    let client: Client;
    beforeAll(() => {
      client = new Client(ls.runtime.grpcAddress!, credentials.createInsecure());
    });
    afterAll(() => client?.close());

    it('ignores fields it does not know, as proto3 says', async () => {
      const known = method.GetSyncStatus!.requestSerialize({ bucket, source_id: sourceId });
      // Field 99 (varint 1) and field 100 (bytes "abc"): from a newer client's schema.
      const unknown = Buffer.from([0x98, 0x06, 0x01, 0xa2, 0x06, 0x03, 0x61, 0x62, 0x63]);
      const answer = await send(client, 'GetSyncStatus', Buffer.concat([known, unknown]), token);
      expect(answer).toMatchObject({ bucket, source_id: sourceId, status: 'SOURCE_STATUS_ACTIVE' });
    });

    it('refuses a message over 1 MiB with RESOURCE_EXHAUSTED, before it reaches a handler', async () => {
      const big = method.GetSyncStatus!.requestSerialize({ bucket: 'b'.repeat(2 * 1024 * 1024), source_id: sourceId });
      const err = await send(client, 'GetSyncStatus', big, token).then(
        () => null,
        (e: ServiceError) => e,
      );
      expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
      // The server is still serving.
      expect(await send(client, 'GetSyncStatus', method.GetSyncStatus!.requestSerialize({ bucket, source_id: sourceId }), token)).toMatchObject({
        source_id: sourceId,
      });
    });
  });

  it('an API sent SIGTERM finishes the gRPC call in flight, refuses new connections and exits 0', async () => {
    // An API process on a task queue no worker polls: its sources' controllers never answer, so each
    // GetSyncStatus waits out its 3 s status query before it answers from the database.
    const api = await startApiProcess({ ...ls.workerEnv, TEMPORAL_TASK_QUEUE: unique('grpc-idle'), LAKESYNC_AUTH_SECRET: ls.authSecret });
    try {
      const slowBucket = unique('grpc-drain');
      const auth = { authorization: `Bearer ${token}` };
      expect((await call(api.url, 'POST', '/admin/buckets', { name: slowBucket }, auth)).status).toBe(201);
      const src = await call(api.url, 'POST', `/${slowBucket}/sources`, { name: 'idle', kind: 'filesystem', filesystem: { path: dir } }, auth);
      expect(src.status).toBe(201);
      const client = new Client(api.grpcAddress, credentials.createInsecure());
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      const getStatus = loadIngestProto()[SERVICE] as unknown as Record<
        string,
        { path: string; requestSerialize: (o: object) => Buffer; responseDeserialize: (b: Buffer) => object }
      >;
      const m = getStatus.GetSyncStatus!;
      const answered = new Promise<Record<string, unknown>>((resolve, reject) =>
        client.makeUnaryRequest(
          m.path,
          m.requestSerialize,
          m.responseDeserialize,
          { bucket: slowBucket, source_id: src.body.sourceId },
          metadata,
          (err, value) => (err ? reject(err) : resolve(value as Record<string, unknown>)),
        ),
      );
      // The call is in its status query (3 s) when the signal comes.
      await new Promise((r) => setTimeout(r, 1000));
      api.child.kill('SIGTERM');
      const [host, port] = [api.grpcAddress.slice(0, api.grpcAddress.lastIndexOf(':')), Number(api.grpcAddress.split(':').pop())];
      await waitFor(
        'new gRPC connections refused',
        () =>
          new Promise<boolean>((resolve) => {
            const socket = connect(port, host);
            socket.once('connect', () => (socket.destroy(), resolve(false)));
            socket.once('error', () => resolve(true));
          }),
        30_000,
        20,
      );
      expect(await answered).toMatchObject({ bucket: slowBucket, source_id: src.body.sourceId, live: false });
      client.close();
      expect(await api.exited).toEqual({ code: 0, signal: null });
      expect(api.output()).toContain('lakesync api stopped gracefully');
    } finally {
      await api.kill('SIGKILL');
    }
  });

  it('stops with the API', async () => {
    const address = ls.runtime.grpcAddress!;
    stopped = true;
    expect(await ls.runtime.stop()).toBe(true);
    if (ls.lake.kind === 'filesystem') await rm(ls.lake.dir, { recursive: true, force: true });
    const after = await new Promise<GrpcurlResult>((resolve) =>
      execFile(grpcurlBin, ['-plaintext', '-connect-timeout', '5', address, 'list'], { timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ exitCode: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
      ),
    );
    expect(after.exitCode).not.toBe(0);
    expect(after.stderr).toMatch(/connection refused|Failed to dial/i);
  });
});
