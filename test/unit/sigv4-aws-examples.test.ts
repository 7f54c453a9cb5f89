// SigV4 verification against the worked examples AWS publishes in the S3 API reference (Signature
// Calculations for the Authorization Header, Query Parameters, Chunked Upload, Trailing Headers). The
// signatures below are AWS's, used as test data: the verifier must accept them, and reject any change.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder, payloadStream, verifySigV4, type SigV4Request, type SigV4Result } from '../../api/s3/sigv4/index.js';
import { ChunkSigning } from '../../api/s3/sigv4/payload.js';
import { canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri, headerValues, parseQuery, stringToSign } from '../../api/s3/sigv4/canonical.js';
import { signHex, signingKey } from '../../domain/sigv4-key.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AT = Date.UTC(2013, 4, 24, 0, 0, 0);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const secretFor = async (id: string): Promise<string | null> => (id === AKID ? SECRET : null);
const verify = (req: SigV4Request, now = AT): Promise<SigV4Result> => verifySigV4(req, { secretFor, now: () => now });

function headerSigned(rawPath: string, rawQuery: string, headers: Record<string, string>, signed: string, signature: string): SigV4Request {
  return {
    method: 'GET',
    rawPath,
    rawQuery,
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signed},Signature=${signature}`,
    },
  };
}

async function decode(stream: NodeJS.ReadWriteStream, body: Buffer, slice: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += slice) parts.push(body.subarray(i, i + slice));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), stream, async (source: AsyncIterable<Buffer | string>) => {
    for await (const c of source) out.push(Buffer.from(c));
  });
  return Buffer.concat(out);
}

describe('AWS worked examples, Authorization header', () => {
  const base = { host: 'examplebucket.s3.amazonaws.com', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z' };

  it('GET Object with a Range header', async () => {
    const req = headerSigned(
      '/test.txt',
      '',
      { ...base, range: 'bytes=0-9' },
      'host;range;x-amz-content-sha256;x-amz-date',
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    const result = await verify(req);
    expect(result).toMatchObject({ ok: true, form: 'header', accessKeyId: AKID, region: 'us-east-1', service: 's3' });
    expect(result.ok && result.payload).toEqual({ kind: 'sha256', sha256: EMPTY });
    // The same request with a changed range, path or secret no longer verifies.
    expect(await verify({ ...req, headers: { ...req.headers, range: 'bytes=0-10' } })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await verify({ ...req, rawPath: '/test.txT' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    expect(await verifySigV4(req, { secretFor: async () => SECRET.slice(1), now: () => AT })).toMatchObject({
      ok: false,
      code: 'SignatureDoesNotMatch',
    });
  });

  it('GET Bucket lifecycle: a query parameter without a value', async () => {
    const req = headerSigned(
      '/',
      'lifecycle',
      base,
      'host;x-amz-content-sha256;x-amz-date',
      'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    );
    expect(await verify(req)).toMatchObject({ ok: true });
    expect(await verify({ ...req, rawQuery: 'lifecycle=' })).toMatchObject({ ok: true });
    expect(await verify({ ...req, rawQuery: 'cors' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it('GET Bucket (list objects): query parameters sorted whatever their order on the wire', async () => {
    const req = headerSigned(
      '/',
      'max-keys=2&prefix=J',
      base,
      'host;x-amz-content-sha256;x-amz-date',
      '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    );
    expect(await verify(req)).toMatchObject({ ok: true });
    expect(await verify({ ...req, rawQuery: 'prefix=J&max-keys=2' })).toMatchObject({ ok: true });
    expect(await verify({ ...req, rawQuery: 'prefix=%4A&max-keys=2' })).toMatchObject({ ok: true });
    expect(await verify({ ...req, rawQuery: 'prefix=K&max-keys=2' })).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });
});

describe('AWS worked example, presigned URL', () => {
  const query =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const req: SigV4Request = { method: 'GET', rawPath: '/test.txt', rawQuery: query, headers: { host: 'examplebucket.s3.amazonaws.com' } };

  it('verifies within its 24 hours, then answers AccessDenied "Request has expired"', async () => {
    const ok = await verify(req, AT + 86_400_000);
    expect(ok).toMatchObject({ ok: true, form: 'presigned', payload: { kind: 'unsigned' } });
    expect(ok.ok && ok.expiresAt?.toISOString()).toBe('2013-05-25T00:00:00.000Z');
    expect(await verify(req, AT + 86_400_000 + 1000)).toEqual({ ok: false, code: 'AccessDenied', message: 'Request has expired' });
  });

  it('refuses a tampered host, path, added parameter or signature', async () => {
    expect(await verify({ ...req, headers: { host: 'otherbucket.s3.amazonaws.com' } })).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(await verify({ ...req, rawPath: '/test2.txt' })).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(await verify({ ...req, rawQuery: `${query}&versionId=1` })).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(await verify({ ...req, rawQuery: query.replace(/d404$/, 'd405') })).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(await verify({ ...req, rawQuery: query.replace('X-Amz-Expires=86400', 'X-Amz-Expires=86401') })).toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
  });
});

describe('AWS worked example, chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', () => {
  const chunk1 = Buffer.alloc(65_536, 'a');
  const chunk2 = Buffer.alloc(1024, 'a');
  const sigs = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  const body = (s = sigs, tail = '\r\n'): Buffer =>
    Buffer.concat([
      Buffer.from(`10000;chunk-signature=${s[0]}\r\n`),
      chunk1,
      Buffer.from(`\r\n400;chunk-signature=${s[1]}\r\n`),
      chunk2,
      Buffer.from(`\r\n0;chunk-signature=${s[2]}\r\n${tail}`),
    ]);
  const req: SigV4Request = {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
  };

  it('verifies the seed signature and decodes the body, however the bytes are split', async () => {
    expect(body().length).toBe(66_824);
    const result = await verify(req);
    if (!result.ok) throw new Error(result.message);
    expect(result.payload).toMatchObject({ kind: 'aws-chunked', trailers: false, trailerChecksum: null, decodedLength: 66_560 });
    for (const slice of [1, 7, 4096, 65_600, 1 << 20]) {
      const out = await decode(payloadStream(result.payload), body(), slice);
      expect(out.equals(Buffer.concat([chunk1, chunk2]))).toBe(true);
    }
  }, 60_000);

  it('fails with the S3 code on a bad chunk signature, a truncated or padded body, or a wrong decoded length', async () => {
    const result = await verify(req);
    if (!result.ok) throw new Error(result.message);
    const swapped = [sigs[1]!, sigs[0]!, sigs[2]!];
    await expect(decode(payloadStream(result.payload), body(swapped), 8192)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    const tampered = body();
    tampered[100] = 'b'.charCodeAt(0);
    await expect(decode(payloadStream(result.payload), tampered, 8192)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    await expect(decode(payloadStream(result.payload), body().subarray(0, 50_000), 8192)).rejects.toMatchObject({ code: 'IncompleteBody' });
    await expect(decode(payloadStream(result.payload), body().subarray(0, 66_600), 8192)).rejects.toMatchObject({ code: 'IncompleteBody' });
    await expect(decode(payloadStream(result.payload), body(sigs, '\r\nextra'), 8192)).rejects.toMatchObject({ code: 'InvalidRequest' });
    if (result.payload.kind !== 'aws-chunked') throw new Error('not aws-chunked');
    const longer = { ...result.payload, decodedLength: 66_561 } as const;
    await expect(decode(new AwsChunkedDecoder(longer), body(), 8192)).rejects.toMatchObject({ code: 'IncompleteBody' });
    const shorter = { ...result.payload, decodedLength: 66_559 } as const;
    await expect(decode(new AwsChunkedDecoder(shorter), body(), 8192)).rejects.toMatchObject({ code: 'InvalidRequest' });
  }, 60_000);

  it('a changed header outside the body breaks the seed signature', async () => {
    const changed = { ...req, headers: { ...req.headers, 'x-amz-decoded-content-length': '66561' } };
    expect(await verify(changed)).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });
});

describe('AWS worked example, trailing headers (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', () => {
  // The example's chunk and trailer signatures, chained from its seed signature.
  const seed = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
  const signing = new ChunkSigning(signingKey(SECRET, '20130524', 'us-east-1', 's3'), '20130524T000000Z', '20130524/us-east-1/s3/aws4_request', seed);
  const mode = { kind: 'aws-chunked', signing, trailers: true, trailerChecksum: 'crc32c', decodedLength: 66_560 } as const;
  const body = (checksum = 'sOO8/Q==', trailerSig = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435'): Buffer =>
    Buffer.concat([
      Buffer.from('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'),
      Buffer.alloc(65_536, 'a'),
      Buffer.from('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'),
      Buffer.alloc(1024, 'a'),
      Buffer.from('\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n'),
      Buffer.from(`x-amz-checksum-crc32c:${checksum}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`),
    ]);

  it('decodes, verifies the trailer signature and the CRC32C of the decoded bytes', async () => {
    const decoder = new AwsChunkedDecoder(mode);
    const out = await decode(decoder, body(), 3000);
    expect(out.equals(Buffer.alloc(66_560, 'a'))).toBe(true);
    expect(decoder.checksum).toEqual({ algorithm: 'crc32c', base64: 'sOO8/Q==' });
  });

  it('a changed trailer breaks the trailer signature; a wrong checksum is BadDigest; a missing one is MalformedTrailerError', async () => {
    await expect(decode(new AwsChunkedDecoder(mode), body('AAAAAA=='), 3000)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    await expect(decode(new AwsChunkedDecoder(mode), body(undefined, '0'.repeat(64)), 3000)).rejects.toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
    // Checked with the example's valid signatures, but a different announced algorithm.
    await expect(decode(new AwsChunkedDecoder({ ...mode, trailerChecksum: 'crc32' }), body(), 3000)).rejects.toMatchObject({
      code: 'MalformedTrailerError',
    });
  });
});

describe('AWS SigV4 test suite vectors (those S3 shares: S3 never normalises paths, so the normalize-* cases do not apply)', () => {
  // The canonicalisation functions the verifier uses, fed the raw request line and headers of each case.
  const SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const UNRESERVED = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const cases: { name: string; target: string; headers?: [string, string][]; signed?: string[]; signature: string }[] = [
    { name: 'get-vanilla', target: '/', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'get-vanilla-empty-query-key', target: '/?Param1=value1', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
    {
      name: 'get-vanilla-query-order-key-case',
      target: '/?Param2=value2&Param1=value1',
      signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    },
    {
      name: 'get-vanilla-query-order-value',
      target: '/?Param1=value2&Param1=value1',
      signature: '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694',
    },
    {
      name: 'get-vanilla-query-unreserved',
      target: `/?${UNRESERVED}=${UNRESERVED}`,
      signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197',
    },
    { name: 'get-vanilla-utf8-query', target: '/?%E1%88%B4=bar', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
    { name: 'get-unreserved', target: `/${UNRESERVED}`, signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
    { name: 'get-utf8', target: '/%E1%88%B4', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
    { name: 'get-space', target: '/example%20space/', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
    {
      name: 'get-header-key-duplicate',
      target: '/',
      headers: [
        ['My-Header1', 'value2'],
        ['My-Header1', 'value2'],
        ['My-Header1', 'value1'],
      ],
      signed: ['host', 'my-header1', 'x-amz-date'],
      signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
    },
    {
      name: 'get-header-value-trim',
      target: '/',
      headers: [
        ['My-Header1', ' value1'],
        ['My-Header2', ' "a   b   c"'],
      ],
      signed: ['host', 'my-header1', 'my-header2', 'x-amz-date'],
      signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
    },
  ];

  it.each(cases)('$name', ({ target, headers = [], signed = ['host', 'x-amz-date'], signature }) => {
    const [rawPath, rawQuery = ''] = target.split('?') as [string, string?];
    const raw = ['Host', 'example.amazonaws.com', 'X-Amz-Date', '20150830T123600Z', ...headers.flat()];
    const canonical = canonicalRequest({
      method: 'GET',
      uri: canonicalUri(rawPath)!,
      query: canonicalQuery(parseQuery(rawQuery)!),
      headers: canonicalHeaders(headerValues({}, raw), signed),
      signedHeaders: signed,
      payloadHash: EMPTY,
    });
    const key = signingKey(SUITE_SECRET, '20150830', 'us-east-1', 'service');
    expect(signHex(key, stringToSign('20150830T123600Z', '20150830/us-east-1/service/aws4_request', canonical))).toBe(signature);
  });
});
