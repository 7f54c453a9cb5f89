/**
 * The gcs kind's pure half (what the edge accepts, what is sealed, what is
 * shown), its change token and error classes, and its client against the
 * real emulator: readable through a policy that allows it, refused by one
 * that does not.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { EGRESS_DENIED_MESSAGE, EgressPolicy, parseEgressList, type EgressMode } from '../../domain/egress-policy.js';
import { createConnection, patchConnection, SOURCE_KINDS, type EdgeChecks, type SourceConnection } from '../../domain/source-kinds.js';
import { findEgressDenied } from '../../activities/net/egress.js';
import { publicDestinationError, UNREACHABLE_MESSAGE } from '../../activities/net/public-error.js';
import { GcsClient, GcsError } from '../../activities/storage/gcs-client.js';
import { gcsEtag, GcsSourceReader } from '../../activities/storage/gcs-source.js';
import { SOURCE_READERS } from '../../activities/storage/source-readers.js';
import { gcsBucket, gcsPutAll, gcsStorage, serviceAccountKey } from '../support/gcs.js';
import { unique } from '../support/lakesync.js';

const policy = (mode: EgressMode, allow = '') => new EgressPolicy(mode, parseEgressList(allow).entries, []);
const edge = (p: EgressPolicy): EdgeChecks => ({ urlProblem: (u) => p.urlProblem(u), sourceDirProblem: async () => null });

describe('gcs settings', () => {
  const key = serviceAccountKey();

  it('splits a key file off the create part: only what signs is sealed, nothing of it is stored or shown', () => {
    const part = SOURCE_KINDS.gcs.create.input.parse({ bucket: 'data', prefix: 'in/', serviceAccount: key });
    const made = createConnection('gcs', { gcs: part });
    expect(made.connection).toEqual({ gcs: { bucket: 'data', prefix: 'in/' } });
    expect(made.credentials).toEqual({ clientEmail: key.client_email, privateKey: key.private_key, privateKeyId: key.private_key_id });
    expect(SOURCE_KINDS.gcs.json({ bucket: 'data', prefix: 'in/' }, true)).toEqual({ gcs: { bucket: 'data', prefix: 'in/', credentialsSet: true } });
  });

  it('needs a key unless an endpoint is given, and refuses what is not a service-account RSA key', () => {
    const problems = (v: unknown) => SOURCE_KINDS.gcs.create.input.safeParse(v).error?.issues.map((i) => i.path.join('.'));
    expect(problems({ bucket: 'data' })).toEqual(['serviceAccount']);
    expect(problems({ bucket: 'data', endpoint: 'http://127.0.0.1:4443' })).toBeUndefined();
    expect(problems({ bucket: 'Bad_Bucket', serviceAccount: key })).toEqual(['bucket']);
    expect(problems({ bucket: 'data', serviceAccount: { ...key, private_key: 'nope' } })).toEqual(['serviceAccount.private_key']);
    expect(problems({ bucket: 'data', serviceAccount: { ...key, type: 'authorized_user' } })).toEqual(['serviceAccount.type']);
    expect(problems({ bucket: 'data', accessKeyId: 'x', serviceAccount: key })).toEqual(['']);
  });

  it('a PATCH part merges settings and replaces the key only when one is sent', () => {
    const stored: SourceConnection = { gcs: { bucket: 'data', prefix: 'in/' } };
    expect(patchConnection(stored, { gcs: { prefix: 'out/' } })).toMatchObject({ connection: { gcs: { bucket: 'data', prefix: 'out/' } }, credentials: null });
    const rekeyed = patchConnection(stored, { gcs: SOURCE_KINDS.gcs.patch.input.parse({ serviceAccount: key }) });
    expect(rekeyed).toMatchObject({ connection: stored, credentials: { clientEmail: key.client_email } });
  });

  it('the edge holds the endpoint and the key file’s token_uri to the destination policy', async () => {
    const strict = edge(policy('strict'));
    const check = (part: object) => createConnection('gcs', { gcs: SOURCE_KINDS.gcs.create.input.parse(part) }).check(strict);
    expect(await check({ bucket: 'data', serviceAccount: key })).toBeNull();
    expect(await check({ bucket: 'data', endpoint: 'http://127.0.0.1:4443' })).toMatchObject({ field: 'gcs.endpoint' });
    expect(await check({ bucket: 'data', serviceAccount: { ...key, token_uri: 'http://169.254.169.254/token' } })).toEqual({
      field: 'gcs.serviceAccount.token_uri',
      problem: 'must be https://oauth2.googleapis.com/token, the token endpoint the Google client uses',
    });
  });
});

describe('gcs change token and errors', () => {
  it('is the MD5 in hex when the object has one, else its generation', () => {
    expect(gcsEtag({ md5Hash: Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64'), generation: '17' })).toBe(
      '0123456789abcdef0123456789abcdef',
    );
    expect(gcsEtag({ generation: '17' })).toBe('generation-17');
  });

  it('a refused key, a missing bucket or a bad request is permanent; throttling, server errors and sockets are not', () => {
    const permanent = SOURCE_READERS.gcs.permanent;
    for (const status of [0, 400, 401, 403, 404]) expect(permanent(new GcsError(status, 'x', 'x'))).toBe(true);
    for (const status of [408, 429, 500, 503]) expect(permanent(new GcsError(status, 'x', 'x'))).toBe(false);
    expect(permanent(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe(false);
  });
});

describe('gcs client on the emulator', () => {
  const { endpoint } = inject('infra').gcs;

  it('lists after a key in byte order, page by page, under the prefix', async () => {
    const storage = gcsStorage();
    const bucket = unique('gcs-unit');
    await gcsBucket(storage, bucket);
    const keys = ['a/1', 'a/2', 'a/ä', 'a/b/3', 'a/z z', 'a/p+q%2F#?&=.txt', 'b/out'];
    await gcsPutAll(storage, bucket, '', new Map(keys.map((k) => [k, Buffer.from(k)])));
    const reader = new GcsSourceReader(new GcsClient({ endpoint, credentials: null, egress: policy('dev') }), { bucket, prefix: 'a/' });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await reader.listPage(after, 2);
      seen.push(...page.objects.map((o) => o.key));
      after = page.nextAfterKey;
      pages++;
    } while (after !== null);
    expect(seen).toEqual(['1', '2', 'b/3', 'p+q%2F#?&=.txt', 'z z', 'ä']);
    expect(pages).toBe(3);
    const { body } = await reader.openRead('z z');
    expect(Buffer.concat(await body.toArray()).toString()).toBe('a/z z');
    const odd = await reader.openRead('p+q%2F#?&=.txt');
    expect(Buffer.concat(await odd.body.toArray()).toString()).toBe('a/p+q%2F#?&=.txt');
    const missing = await reader.openRead('nope').catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 'NotFound' });
  });

  it('reads a gzip-encoded object as stored: the bytes its MD5 is of, not decompressed', async () => {
    const storage = gcsStorage();
    const bucket = unique('gcs-gzip');
    await gcsBucket(storage, bucket);
    const stored = gzipSync(Buffer.from('hello, compressed world\n'.repeat(100)));
    await storage
      .bucket(bucket)
      .file('log.txt.gz')
      .save(stored, { resumable: false, metadata: { contentEncoding: 'gzip', contentType: 'text/plain' } });
    const reader = new GcsSourceReader(new GcsClient({ endpoint, credentials: null, egress: policy('dev') }), { bucket, prefix: '' });
    const [listed] = (await reader.listPage(null, 10)).objects;
    expect(listed).toMatchObject({ key: 'log.txt.gz', size: stored.length, etag: createHash('md5').update(stored).digest('hex') });
    const { body } = await reader.openRead('log.txt.gz');
    expect(Buffer.concat(await body.toArray()).equals(stored)).toBe(true);
  });

  it('heads an object for metadata filters: its Content-Type and custom metadata, null once it is gone', async () => {
    const storage = gcsStorage();
    const bucket = unique('gcs-head');
    await gcsBucket(storage, bucket);
    const file = storage.bucket(bucket).file('in/meta.csv');
    await file.save('a,b', { resumable: false, metadata: { contentType: 'text/csv', metadata: { Team: 'finance', tier: '2' } } });
    const reader = new GcsSourceReader(new GcsClient({ endpoint, credentials: null, egress: policy('dev') }), { bucket, prefix: 'in/' });
    expect(await reader.head('meta.csv')).toEqual({ contentType: 'text/csv', metadata: { team: 'finance', tier: '2' } });
    await file.delete();
    expect(await reader.head('meta.csv')).toBeNull();
  });

  it('repeats the API’s own error message, never the body of another kind of server’s answer', async () => {
    const foreign = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html>internal admin console v1.2</html>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    try {
      const at = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
      const err = await new GcsClient({ endpoint: at, credentials: null, egress: policy('dev') })
        .list('b', { prefix: '', startOffset: null, maxResults: 1 })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 404, code: 'NotFound', message: 'HTTP 404', foreignAnswer: true });
      // Strict mode tells a tenant no more than that the endpoint could not be reached.
      expect(publicDestinationError(err, true)).toBe(UNREACHABLE_MESSAGE);
      const missing = await new GcsClient({ endpoint, credentials: null, egress: policy('dev') })
        .list(unique('none'), { prefix: '', startOffset: null, maxResults: 1 })
        .catch((e: unknown) => e);
      expect(missing).toMatchObject({ foreignAnswer: false, message: expect.stringMatching(/^HTTP 404: .+/) });
      expect(publicDestinationError(missing, true)).toBeNull();
    } finally {
      foreign.close();
    }
  });

  it('connects only where the egress policy allows', async () => {
    const client = new GcsClient({ endpoint, credentials: null, egress: policy('strict') });
    const err = await client.list('any', { prefix: '', startOffset: null, maxResults: 1 }).catch((e: unknown) => e);
    expect(findEgressDenied(err)?.message).toBe(EGRESS_DENIED_MESSAGE);
    const allowed = new GcsClient({ endpoint, credentials: null, egress: policy('strict', '127.0.0.1') });
    expect(await allowed.list(unique('none'), { prefix: '', startOffset: null, maxResults: 1 }).catch((e: unknown) => e)).toBeInstanceOf(GcsError);
  });
});
