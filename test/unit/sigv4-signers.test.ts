// SigV4 verification of requests signed by real signers (@smithy/signature-v4, the AWS SDK's own, and
// aws4) and sent over real HTTP to a loopback server, so the verifier sees exactly what Node receives.
// No expected signature is computed here: the signers produce them, the verifier must agree.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Sha256 } from '@aws-sdk/checksums/sha';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CLOCK_SKEW_MS, MAX_PRESIGN_EXPIRES_SECONDS, signedRequestForm } from '../../api/s3/sigv4/index.js';
import { startLoopbackS3, type LoopbackS3, type Outcome } from '../support/loopback-s3.js';
import { signS3 } from '../../lake/s3-signer.js';

const KEY = { accessKeyId: 'LSAKTESTKEY0000001', secretAccessKey: 'test/secret+with=odd chars~%' };
const OTHER = { accessKeyId: 'LSAKTESTKEY0000002', secretAccessKey: 'another-secret' };
const secrets = new Map([
  [KEY.accessKeyId, KEY.secretAccessKey],
  [OTHER.accessKeyId, OTHER.secretAccessKey],
]);

let s3: LoopbackS3;
let clockOffsetMs = 0;
const handler = new NodeHttpHandler();

beforeAll(async () => {
  s3 = await startLoopbackS3({ secretFor: async (id) => secrets.get(id) ?? null, now: () => Date.now() + clockOffsetMs });
});
afterAll(async () => {
  handler.destroy();
  await s3.close();
});

// The path an S3 client puts on the wire for a key: each segment strictly percent-encoded (RFC 3986).
const strict = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const s3Path = (bucket: string, key: string): string => `/${bucket}/${key.split('/').map(strict).join('/')}`;

const KEYS = [
  'plain.txt',
  'with space.txt',
  'ünïcødé/日本語/ファイル.txt',
  'plus+sign',
  'per%cent%20literal',
  'tilde~and-dash_dot.',
  'eq=ual&amp',
  "bang!'()*",
  'dir/./sub/../x',
  'semi;colon,comma:colon@at$dollar',
  'hash#and?question',
  'double//slash/',
  'emoji 🎉',
];

function smithySigner(credentials = KEY): SignatureV4 {
  // As @aws-sdk/client-s3 configures it: the path arrives already encoded, never normalised.
  return new SignatureV4({ service: 's3', region: 'us-east-1', credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: true });
}

interface Req {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers?: Record<string, string>;
  body?: string;
}

function smithyRequest(r: Req): Parameters<SignatureV4['sign']>[0] & object {
  return {
    method: r.method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: s3.port,
    path: r.path,
    query: r.query ?? {},
    headers: { host: `127.0.0.1:${s3.port}`, ...(r.headers ?? {}) },
    ...(r.body !== undefined ? { body: r.body } : {}),
  } as never;
}

async function sendSmithy(request: unknown): Promise<{ status: number; outcome: Outcome }> {
  const before = s3.outcomes.length;
  const { response } = await handler.handle(request as never);
  for await (const _ of response.body as AsyncIterable<Buffer>) void _;
  expect(s3.outcomes.length).toBe(before + 1);
  return { status: response.statusCode, outcome: s3.outcomes.at(-1)! };
}

async function sendRaw(opts: { method: string; path: string; headers: Record<string, string | number>; body?: string | Buffer }): Promise<{
  status: number;
  outcome: Outcome;
}> {
  const before = s3.outcomes.length;
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: s3.port, method: opts.method, path: opts.path, headers: opts.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
  expect(s3.outcomes.length).toBe(before + 1);
  return { status, outcome: s3.outcomes.at(-1)! };
}

const code = (o: Outcome): string | undefined => (o.result.ok ? o.bodyError : o.result.code);

describe('@smithy/signature-v4, Authorization header', () => {
  it.each(KEYS)('GET and PUT of key %j verify, and the PUT body is checked against its signed SHA-256', async (key) => {
    const path = s3Path('bucket', key);
    const get = await sendSmithy(await smithySigner().sign(smithyRequest({ method: 'GET', path })));
    expect(get.outcome.result).toMatchObject({ ok: true, form: 'header', accessKeyId: KEY.accessKeyId, region: 'us-east-1', service: 's3' });
    expect(get.status).toBe(200);

    const body = `body of ${key}`;
    const put = await sendSmithy(await smithySigner().sign(smithyRequest({ method: 'PUT', path, body, headers: { 'content-type': 'text/plain' } })));
    expect(put.outcome.result).toMatchObject({ ok: true, payload: { kind: 'sha256' } });
    expect(put.outcome.body?.toString()).toBe(body);
  });

  it('query parameters with reserved characters, repeats and empty values verify', async () => {
    const query = {
      'list-type': '2',
      prefix: 'a b+c/ü&=?',
      delimiter: '/',
      'continuation-token': 'tok=en/+',
      'start-after': '',
      marker: ['z', 'a'],
    };
    const { outcome } = await sendSmithy(await smithySigner().sign(smithyRequest({ method: 'GET', path: '/bucket', query })));
    expect(outcome.result).toMatchObject({ ok: true });
    expect(outcome.url).toContain('prefix=a%20b%2Bc%2F%C3%BC%26%3D%3F');
  });

  it('a path sent less strictly encoded than it was signed still verifies: S3 canonicalises what it receives', async () => {
    const key = "bang!'()*/with space/ü";
    const signed = await smithySigner().sign(smithyRequest({ method: 'GET', path: s3Path('bucket', key) }));
    const loose = { ...signed, path: `/bucket/${encodeURI(key)}` };
    expect(loose.path).toContain("!'()*");
    const { outcome } = await sendSmithy(loose);
    expect(outcome.result).toMatchObject({ ok: true });
  });

  it('refuses a tampered path, query, signed header or body with the S3 code', async () => {
    const path = s3Path('bucket', 'key.txt');
    const signed = await smithySigner().sign(smithyRequest({ method: 'PUT', path, query: { tagging: '' }, headers: { 'x-amz-meta-a': '1' }, body: 'hello' }));
    expect(code((await sendSmithy(signed)).outcome)).toBeUndefined();
    expect(code((await sendSmithy({ ...signed, path: s3Path('bucket', 'key.txT') })).outcome)).toBe('SignatureDoesNotMatch');
    expect(code((await sendSmithy({ ...signed, query: { tagging: 'x' } })).outcome)).toBe('SignatureDoesNotMatch');
    expect(code((await sendSmithy({ ...signed, method: 'POST' })).outcome)).toBe('SignatureDoesNotMatch');
    expect(code((await sendSmithy({ ...signed, headers: { ...signed.headers, 'x-amz-meta-a': '2' } })).outcome)).toBe('SignatureDoesNotMatch');
    // An x-amz-* header the signature does not cover is refused, as S3 does.
    const extra = await sendSmithy({ ...signed, headers: { ...signed.headers, 'x-amz-meta-b': '1' } });
    expect(extra.outcome.result).toMatchObject({ ok: false, code: 'AccessDenied', message: 'There were headers present in the request which were not signed' });
    expect(extra.status).toBe(403);
    // Same length, other bytes: the signature holds (it covers the hash header), the body check does not.
    const body = await sendSmithy({ ...signed, body: 'HELLO' });
    expect(body.outcome.result.ok).toBe(true);
    expect(body.outcome.bodyError).toBe('XAmzContentSHA256Mismatch');
    expect(body.status).toBe(400);
  });

  it('wrong secret, unknown key, security token, a region other than the configured one', async () => {
    const path = s3Path('bucket', 'k');
    const wrongSecret = smithySigner({ accessKeyId: KEY.accessKeyId, secretAccessKey: OTHER.secretAccessKey });
    expect(code((await sendSmithy(await wrongSecret.sign(smithyRequest({ method: 'GET', path })))).outcome)).toBe('SignatureDoesNotMatch');
    const unknown = smithySigner({ accessKeyId: 'LSAKNOSUCHKEY', secretAccessKey: 'x' });
    const u = await sendSmithy(await unknown.sign(smithyRequest({ method: 'GET', path })));
    expect(code(u.outcome)).toBe('InvalidAccessKeyId');
    expect(u.status).toBe(403);
    const token = smithySigner({ ...KEY, sessionToken: 'FwoGZXIvYXdzE' } as typeof KEY);
    expect(code((await sendSmithy(await token.sign(smithyRequest({ method: 'GET', path })))).outcome)).toBe('InvalidToken');
    const eu = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials: KEY, sha256: Sha256, uriEscapePath: false });
    const euReq = await eu.sign(smithyRequest({ method: 'GET', path, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    // Any region verifies unless the verifier is told which one it serves.
    expect((await sendSmithy(euReq)).outcome.result).toMatchObject({ ok: true, region: 'eu-west-1' });
    const { verifySigV4, splitRequestUrl } = await import('../../api/s3/sigv4/index.js');
    const last = s3.outcomes.at(-1)!;
    const pinned = await verifySigV4(
      { method: 'GET', ...splitRequestUrl(last.url), headers: last.headers },
      { secretFor: async () => KEY.secretAccessKey, region: 'us-east-1' },
    );
    expect(pinned).toMatchObject({ ok: false, code: 'AuthorizationHeaderMalformed' });
  });

  it('clock skew: 14 minutes either way verifies, 16 minutes is RequestTimeTooSkewed', async () => {
    expect(MAX_CLOCK_SKEW_MS).toBe(15 * 60_000);
    const path = s3Path('bucket', 'k');
    for (const minutes of [-14, 14]) {
      const signed = await smithySigner().sign(smithyRequest({ method: 'GET', path }), { signingDate: new Date(Date.now() + minutes * 60_000) });
      expect((await sendSmithy(signed)).outcome.result).toMatchObject({ ok: true });
    }
    for (const minutes of [-16, 16]) {
      const signed = await smithySigner().sign(smithyRequest({ method: 'GET', path }), { signingDate: new Date(Date.now() + minutes * 60_000) });
      const { outcome, status } = await sendSmithy(signed);
      expect(code(outcome)).toBe('RequestTimeTooSkewed');
      expect(status).toBe(403);
    }
  });

  it('a header-signed request without x-amz-content-sha256 is refused, as S3 requires it', async () => {
    const bare = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: KEY, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const { outcome } = await sendSmithy(await bare.sign(smithyRequest({ method: 'GET', path: '/bucket/k' })));
    expect(outcome.result).toMatchObject({ ok: false, code: 'InvalidRequest' });
  });
});

describe('@smithy/signature-v4, presigned URLs', () => {
  const presign = async (r: Req, expiresIn = 3600, signingDate = new Date()): Promise<unknown> =>
    smithySigner().presign(smithyRequest({ ...r, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(r.headers ?? {}) } }), {
      expiresIn,
      signingDate,
    });

  it.each(KEYS)('GET of key %j through a presigned URL verifies', async (key) => {
    const { outcome } = await sendSmithy(
      await presign({ method: 'GET', path: s3Path('bucket', key), query: { 'response-content-type': 'text/plain; charset=utf-8' } }),
    );
    expect(outcome.result).toMatchObject({ ok: true, form: 'presigned', payload: { kind: 'unsigned' } });
  });

  it('a presigned PUT takes any body (UNSIGNED-PAYLOAD)', async () => {
    const signed = (await presign({ method: 'PUT', path: s3Path('bucket', 'up.bin') })) as { body?: string };
    const { outcome } = await sendSmithy({ ...signed, body: 'anything at all' });
    expect(outcome.body?.toString()).toBe('anything at all');
  });

  it('expired, not yet valid, over 7 days, tampered, or doubled with an Authorization header', async () => {
    const path = s3Path('bucket', 'k');
    const expired = await sendSmithy(await presign({ method: 'GET', path }, 60, new Date(Date.now() - 120_000)));
    expect(expired.outcome.result).toEqual({ ok: false, code: 'AccessDenied', message: 'Request has expired' });
    expect(expired.status).toBe(403);
    const future = await sendSmithy(await presign({ method: 'GET', path }, 60, new Date(Date.now() + 20 * 60_000)));
    expect(code(future.outcome)).toBe('AccessDenied');

    expect(MAX_PRESIGN_EXPIRES_SECONDS).toBe(604_800);
    const signed = (await presign({ method: 'GET', path }, 604_800)) as { query: Record<string, string>; headers: Record<string, string> };
    expect(code((await sendSmithy(signed)).outcome)).toBeUndefined();
    const tooLong = await sendSmithy({ ...signed, query: { ...signed.query, 'X-Amz-Expires': '604801' } });
    expect(code(tooLong.outcome)).toBe('AuthorizationQueryParametersError');
    expect(tooLong.status).toBe(400);
    expect(code((await sendSmithy({ ...signed, query: { ...signed.query, 'X-Amz-Expires': '0' } })).outcome)).toBe('AuthorizationQueryParametersError');
    expect(code((await sendSmithy({ ...signed, query: { ...signed.query, 'X-Amz-Expires': 'soon' } })).outcome)).toBe('AuthorizationQueryParametersError');
    expect(code((await sendSmithy({ ...signed, query: { ...signed.query, 'X-Amz-Expires': '604799' } })).outcome)).toBe('SignatureDoesNotMatch');
    expect(code((await sendSmithy({ ...signed, query: { ...signed.query, versionId: '1' } })).outcome)).toBe('SignatureDoesNotMatch');
    const withoutSignature = { ...signed.query };
    delete withoutSignature['X-Amz-Signature'];
    expect(code((await sendSmithy({ ...signed, query: withoutSignature })).outcome)).toBe('AuthorizationQueryParametersError');
    expect(code((await sendSmithy({ ...signed, headers: { ...signed.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } })).outcome)).toBe(
      'InvalidArgument',
    );
  });

  it('a presigned URL carrying X-Amz-Security-Token is refused: lakesync keys take no session token', async () => {
    const withToken = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { ...KEY, sessionToken: 'FwoGZXIvYXdzE' },
      sha256: Sha256,
      uriEscapePath: false,
    });
    const signed = (await withToken.presign(smithyRequest({ method: 'GET', path: '/bucket/k' }))) as { query: Record<string, string> };
    expect(signed.query['X-Amz-Security-Token']).toBe('FwoGZXIvYXdzE');
    const { outcome, status } = await sendSmithy(signed);
    expect(code(outcome)).toBe('InvalidToken');
    expect(status).toBe(400);
  });

  it('the verifier clock decides expiry: a URL valid now is expired an hour and a second later', async () => {
    const signed = await presign({ method: 'GET', path: '/bucket/k' }, 3600);
    expect(code((await sendSmithy(signed)).outcome)).toBeUndefined();
    clockOffsetMs = 3_601_000;
    try {
      expect(code((await sendSmithy(signed)).outcome)).toBe('AccessDenied');
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe("lakesync's own signer (lake/s3-signer.ts, the lean paths' requests)", () => {
  const host = () => `127.0.0.1:${s3.port}`;

  it.each(KEYS)('GET, and PUT of key %j with a part query, verify; a hex payload hash checks the body', async (key) => {
    const path = s3Path('bucket', key);
    const get = await sendRaw({
      method: 'GET',
      path,
      headers: signS3(KEY, 'us-east-1', { method: 'GET', host: host(), path, headers: { range: 'bytes=0-9' } }),
    });
    expect(get.outcome.result).toMatchObject({ ok: true, form: 'header', accessKeyId: KEY.accessKeyId });
    const body = `own signer body ${key}`;
    const partPath = `${path}?partNumber=3&uploadId=${strict('up/load+id=x')}`;
    const hash = createHash('sha256').update(body).digest('hex');
    const headers = {
      'Content-Type': 'text/plain',
      'X-Amz-Meta-Note': '  spaced   out  ',
      'content-length': String(Buffer.byteLength(body)),
      'x-amz-content-sha256': hash,
    };
    const put = await sendRaw({
      method: 'PUT',
      path: partPath,
      headers: signS3(KEY, 'us-east-1', { method: 'PUT', host: host(), path: partPath, headers }),
      body,
    });
    expect(put.outcome.result).toMatchObject({ ok: true, payload: { kind: 'sha256' } });
    expect(put.outcome.bodyError).toBeUndefined();
    expect(put.outcome.body?.toString()).toBe(body);
    const other = await sendRaw({
      method: 'PUT',
      path: partPath,
      headers: signS3(KEY, 'us-east-1', { method: 'PUT', host: host(), path: partPath, headers }),
      body: body.replace(/.$/, '#'),
    });
    expect(code(other.outcome)).toBe('XAmzContentSHA256Mismatch');
  });

  it('signs exactly as @smithy/signature-v4 does for the same request and instant', async () => {
    const now = new Date('2026-11-29T12:34:56.789Z');
    for (const key of KEYS) {
      const path = s3Path('bucket', key);
      const query = { 'list-type': '2', prefix: 'a b+c/ü&=?', 'start-after': key, 'max-keys': '1000' };
      const qs = Object.entries(query)
        .map(([n, v]) => `${n}=${strict(v)}`)
        .join('&');
      const ours = signS3(KEY, 'us-east-1', { method: 'GET', host: host(), path: `${path}?${qs}` }, now);
      const theirs = await smithySigner().sign(
        smithyRequest({ method: 'GET', path, query, headers: { 'x-amz-content-sha256': ours['x-amz-content-sha256']!, 'x-amz-date': ours['x-amz-date']! } }),
        { signingDate: now },
      );
      expect(ours.authorization).toBe(theirs.headers.authorization);
    }
  });

  it('a tampered query or another secret is refused', async () => {
    const path = `${s3Path('bucket', 'k')}?partNumber=1&uploadId=abc`;
    const headers = signS3(KEY, 'us-east-1', { method: 'GET', host: host(), path });
    expect(code((await sendRaw({ method: 'GET', path: path.replace('partNumber=1', 'partNumber=2'), headers })).outcome)).toBe('SignatureDoesNotMatch');
    const wrong = signS3({ ...KEY, secretAccessKey: 'not-it' }, 'us-east-1', { method: 'GET', host: host(), path });
    expect(code((await sendRaw({ method: 'GET', path, headers: wrong })).outcome)).toBe('SignatureDoesNotMatch');
  });
});

describe('aws4', () => {
  it.each(KEYS)('header-signed PUT of key %j with a query string verifies and its body checks', async (key) => {
    const body = `aws4 body ${key}`;
    const opts = {
      host: `127.0.0.1:${s3.port}`,
      path: `${s3Path('bucket', key)}?x-id=PutObject&tagging=${strict('a=b c')}`,
      method: 'PUT',
      service: 's3',
      region: 'us-east-1',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Amz-Meta-Note': '  spaced   out  ' },
      body,
    };
    aws4.sign(opts, KEY);
    const { outcome, status } = await sendRaw({ method: 'PUT', path: opts.path, headers: opts.headers as Record<string, string>, body });
    expect(outcome.result).toMatchObject({ ok: true, payload: { kind: 'sha256' } });
    expect(outcome.body?.toString()).toBe(body);
    expect(status).toBe(200);
  });

  it.each(KEYS)('presigned GET of key %j verifies', async (key) => {
    const opts = { host: `127.0.0.1:${s3.port}`, path: s3Path('bucket', key), service: 's3', region: 'us-east-1', signQuery: true };
    aws4.sign(opts, KEY);
    const { outcome } = await sendRaw({ method: 'GET', path: opts.path, headers: { host: `127.0.0.1:${s3.port}` } });
    expect(outcome.result).toMatchObject({ ok: true, form: 'presigned' });
  });

  it('a body other than the signed one fails the content check; a wrong key fails the signature', async () => {
    const opts = { host: `127.0.0.1:${s3.port}`, path: '/bucket/k', method: 'PUT', service: 's3', region: 'us-east-1', body: 'signed body' };
    aws4.sign(opts, KEY);
    const headers = opts as unknown as { headers: Record<string, string> };
    const tampered = await sendRaw({ method: 'PUT', path: opts.path, headers: headers.headers, body: 'other body!' });
    expect(tampered.outcome.bodyError).toBe('XAmzContentSHA256Mismatch');
    const other = { host: `127.0.0.1:${s3.port}`, path: '/bucket/k', service: 's3', region: 'us-east-1' };
    aws4.sign(other, { accessKeyId: KEY.accessKeyId, secretAccessKey: 'nope' });
    const wrong = await sendRaw({ method: 'GET', path: other.path, headers: (other as unknown as { headers: Record<string, string> }).headers });
    expect(code(wrong.outcome)).toBe('SignatureDoesNotMatch');
  });

  it('a request dated by its Date header alone (no x-amz-date) verifies; the Date header is then signed', async () => {
    const date = new Date().toUTCString();
    const opts = {
      host: `127.0.0.1:${s3.port}`,
      path: '/bucket/dated',
      service: 's3',
      region: 'us-east-1',
      doNotModifyHeaders: true,
      headers: { Host: `127.0.0.1:${s3.port}`, Date: date, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    };
    aws4.sign(opts, KEY);
    expect(Object.keys(opts.headers).map((h) => h.toLowerCase())).not.toContain('x-amz-date');
    const ok = await sendRaw({ method: 'GET', path: opts.path, headers: opts.headers });
    expect(ok.outcome.result).toMatchObject({ ok: true });
    const moved = new Date(Date.parse(date) + 1000).toUTCString();
    const changed = await sendRaw({ method: 'GET', path: opts.path, headers: { ...opts.headers, Date: moved } });
    expect(code(changed.outcome)).toBe('SignatureDoesNotMatch');
    const none = await sendRaw({ method: 'GET', path: opts.path, headers: { ...opts.headers, Date: 'not a date' } });
    expect(none.outcome.result).toMatchObject({ ok: false, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' });
  });

  it("a raw '+' in the query means a space, as aws4 (and HTML forms) take it; an encoded %2B stays a plus", async () => {
    const opts = { host: `127.0.0.1:${s3.port}`, path: '/bucket?prefix=a+b&delimiter=%2B', service: 's3', region: 'us-east-1' };
    aws4.sign(opts, KEY);
    const headers = (opts as unknown as { headers: Record<string, string> }).headers;
    expect((await sendRaw({ method: 'GET', path: opts.path, headers })).outcome.result).toMatchObject({ ok: true });
    expect((await sendRaw({ method: 'GET', path: '/bucket?prefix=a%20b&delimiter=%2B', headers })).outcome.result).toMatchObject({ ok: true });
    expect(code((await sendRaw({ method: 'GET', path: '/bucket?prefix=a%2Bb&delimiter=%2B', headers })).outcome)).toBe('SignatureDoesNotMatch');
  });

  it('SigV2 is refused with InvalidRequest, an unsigned request with AccessDenied', async () => {
    const v2 = await sendRaw({ method: 'GET', path: '/bucket/k', headers: { authorization: `AWS ${KEY.accessKeyId}:c2lnbmF0dXJl` } });
    expect(code(v2.outcome)).toBe('InvalidRequest');
    const none = await sendRaw({ method: 'GET', path: '/bucket/k', headers: {} });
    expect(code(none.outcome)).toBe('AccessDenied');
  });
});

describe('signedRequestForm: which requests are S3 requests', () => {
  it('the Authorization header forms, SigV2 included, and presigned queries; bearer and plain requests are not', () => {
    expect(signedRequestForm({ authorization: 'AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request, SignedHeaders=host, Signature=0' }, '')).toBe('header');
    expect(signedRequestForm({ authorization: 'AWS AKID:c2ln' }, '')).toBe('header');
    expect(signedRequestForm({}, 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x')).toBe('presigned');
    expect(signedRequestForm({}, 'a=%zz&X-Amz-Algorithm=AWS4-HMAC-SHA256')).toBe('presigned');
    expect(signedRequestForm({ authorization: 'Bearer lsk_abc' }, 'prefix=X-Amz-Algorithm')).toBeNull();
    expect(signedRequestForm({}, 'x-amz-algorithm=AWS4-HMAC-SHA256')).toBeNull();
    expect(signedRequestForm({}, '')).toBeNull();
  });
});
