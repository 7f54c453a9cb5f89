// aws-chunked bodies beyond AWS's worked examples: signed chunks and signed trailers for every checksum
// (the seed and chunk signatures made with @smithy/signature-v4's signing key), unsigned trailers, and
// broken framing, which must end in an S3 error, never a hang or unbounded buffering.
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { Sha256 } from '@aws-sdk/checksums/sha';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AwsChunkedDecoder,
  CHECKSUM_ALGORITHMS,
  checksumCheck,
  contentSha256Check,
  type ChecksumAlgorithm,
  type PayloadMode,
} from '../../api/s3/sigv4/index.js';
import { startLoopbackS3, type LoopbackS3, type Outcome } from '../support/loopback-s3.js';

const KEY = { accessKeyId: 'LSAKCHUNKTEST00001', secretAccessKey: 'chunk/secret+=~' };
let s3: LoopbackS3;
beforeAll(async () => {
  s3 = await startLoopbackS3({ secretFor: async (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : null) });
});
afterAll(() => s3.close());

const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: KEY, sha256: Sha256, uriEscapePath: false });
type Signed = { headers: Record<string, string> };
const signHttp = async (request: object, signingDate = new Date()): Promise<Signed> =>
  (await signer.sign(request as never, { signingDate })) as unknown as Signed;
const hex256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

async function checksumOf(algorithm: ChecksumAlgorithm, data: Buffer): Promise<string> {
  if (algorithm === 'sha1' || algorithm === 'sha256') return createHash(algorithm).update(data).digest('base64');
  const crc = algorithm === 'crc32' ? new Crc32() : algorithm === 'crc32c' ? new Crc32c() : new Crc64Nvme();
  crc.update(data);
  return Buffer.from(await crc.digest()).toString('base64');
}

interface SignedUpload {
  payload: Buffer;
  chunkSize: number;
  trailer?: { algorithm: ChecksumAlgorithm; value?: string };
  /** Mutates the encoded body before sending. */
  corrupt?: (body: Buffer) => Buffer;
  corruptTrailerSignature?: boolean;
}

/** Signs the request headers (the seed), then each chunk and the trailer, as the S3 docs describe, and sends it. */
async function sendSigned(upload: SignedUpload): Promise<Outcome> {
  const when = new Date();
  const amzDate = when
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const sign = (stringToSign: string): Promise<string> => signer.sign(stringToSign, { signingDate: when });
  const headers: Record<string, string> = {
    host: `127.0.0.1:${s3.port}`,
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': upload.trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-decoded-content-length': String(upload.payload.length),
    ...(upload.trailer ? { 'x-amz-trailer': `x-amz-checksum-${upload.trailer.algorithm}` } : {}),
  };
  const seedRequest = await signHttp(
    { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: s3.port, path: '/bucket/chunked.bin', query: {}, headers },
    when,
  );
  let previous = /Signature=([0-9a-f]{64})/.exec(seedRequest.headers.authorization!)![1]!;
  const parts: Buffer[] = [];
  const chunkSig = async (data: Buffer): Promise<string> => {
    previous = await sign(`AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${hex256('')}\n${hex256(data)}`);
    return previous;
  };
  for (let i = 0; i < upload.payload.length; i += upload.chunkSize) {
    const data = upload.payload.subarray(i, i + upload.chunkSize);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${await chunkSig(data)}\r\n`), data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0;chunk-signature=${await chunkSig(Buffer.alloc(0))}\r\n`));
  if (upload.trailer) {
    const value = upload.trailer.value ?? (await checksumOf(upload.trailer.algorithm, upload.payload));
    const line = `x-amz-checksum-${upload.trailer.algorithm}:${value}`;
    let trailerSig = await sign(`AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previous}\n${hex256(`${line}\n`)}`);
    if (upload.corruptTrailerSignature) trailerSig = trailerSig.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    parts.push(Buffer.from(`${line}\r\nx-amz-trailer-signature:${trailerSig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  let body: Buffer = Buffer.concat(parts);
  if (upload.corrupt) body = upload.corrupt(body);
  const before = s3.outcomes.length;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: s3.port, method: 'PUT', path: '/bucket/chunked.bin', headers: { ...seedRequest.headers, 'content-length': body.length } },
      (res) => res.resume().on('end', resolve),
    );
    req.on('error', reject);
    req.end(body);
  });
  expect(s3.outcomes.length).toBe(before + 1);
  return s3.outcomes.at(-1)!;
}

describe('signed aws-chunked uploads over HTTP', () => {
  const payload = randomBytes(300_000);

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signature verifies and the body decodes', async () => {
    const outcome = await sendSigned({ payload, chunkSize: 65_536 });
    expect(outcome.result).toMatchObject({ ok: true, payload: { kind: 'aws-chunked', trailers: false } });
    expect(outcome.bodyError).toBeUndefined();
    expect(outcome.body?.equals(payload)).toBe(true);
  });

  it.each(CHECKSUM_ALGORITHMS)('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with %s: trailer signature and checksum verify', async (algorithm) => {
    const outcome = await sendSigned({ payload, chunkSize: 100_000, trailer: { algorithm } });
    expect(outcome.bodyError).toBeUndefined();
    expect(outcome.body?.equals(payload)).toBe(true);
    expect(outcome.trailerChecksum).toEqual({ algorithm, base64: await checksumOf(algorithm, payload) });
  });

  it('a checksum that does not match the bytes, under a valid trailer signature, is BadDigest', async () => {
    const outcome = await sendSigned({ payload, chunkSize: 65_536, trailer: { algorithm: 'crc32', value: 'AAAAAA==' } });
    expect(outcome.bodyError).toBe('BadDigest');
  });

  it('a bad trailer signature, a flipped data byte, a truncated body: SignatureDoesNotMatch, SignatureDoesNotMatch, IncompleteBody', async () => {
    expect((await sendSigned({ payload, chunkSize: 65_536, trailer: { algorithm: 'sha256' }, corruptTrailerSignature: true })).bodyError).toBe(
      'SignatureDoesNotMatch',
    );
    const flip = (b: Buffer): Buffer => {
      b[200_000] = b[200_000]! ^ 1;
      return b;
    };
    expect((await sendSigned({ payload, chunkSize: 65_536, corrupt: flip })).bodyError).toBe('SignatureDoesNotMatch');
    expect((await sendSigned({ payload, chunkSize: 65_536, corrupt: (b) => b.subarray(0, 150_000) })).bodyError).toBe('IncompleteBody');
  });
});

async function decodeAll(stream: NodeJS.ReadWriteStream, body: Buffer | Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(Array.isArray(body) ? body : [body]), stream, async (source: AsyncIterable<Buffer | string>) => {
    for await (const c of source) out.push(Buffer.from(c));
  });
  return Buffer.concat(out);
}

const unsignedTrailer = (algorithm: ChecksumAlgorithm | null, decodedLength: number): AwsChunkedDecoder => {
  const mode: PayloadMode = { kind: 'aws-chunked', signing: null, trailers: true, trailerChecksum: algorithm, decodedLength };
  return new AwsChunkedDecoder(mode);
};

describe('unsigned aws-chunked with trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const data = Buffer.from('hello, lake');
  const framed = (trailer: string): Buffer => Buffer.from(`5\r\nhello\r\n6\r\n, lake\r\n0\r\n${trailer}\r\n`);

  it('decodes and checks the trailing checksum', async () => {
    const crc = await checksumOf('crc32', data);
    const decoder = unsignedTrailer('crc32', data.length);
    expect((await decodeAll(decoder, framed(`x-amz-checksum-crc32:${crc}\r\n`))).equals(data)).toBe(true);
    expect(decoder.checksum).toEqual({ algorithm: 'crc32', base64: crc });
  });

  it('wrong checksum BadDigest; missing, unannounced or signed trailer MalformedTrailerError', async () => {
    await expect(decodeAll(unsignedTrailer('crc32', data.length), framed('x-amz-checksum-crc32:AAAAAA==\r\n'))).rejects.toMatchObject({
      code: 'BadDigest',
      status: 400,
    });
    await expect(decodeAll(unsignedTrailer('crc32', data.length), framed(''))).rejects.toMatchObject({ code: 'MalformedTrailerError' });
    const crc32c = await checksumOf('crc32c', data);
    await expect(decodeAll(unsignedTrailer('crc32', data.length), framed(`x-amz-checksum-crc32c:${crc32c}\r\n`))).rejects.toMatchObject({
      code: 'MalformedTrailerError',
    });
    await expect(
      decodeAll(unsignedTrailer(null, data.length), framed(`x-amz-checksum-crc32c:${crc32c}\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n`)),
    ).rejects.toMatchObject({ code: 'MalformedTrailerError' });
  });
});

describe('broken framing ends in an error, never a hang', () => {
  const plain = (decodedLength: number): AwsChunkedDecoder => unsignedTrailer(null, decodedLength);

  it.each([
    ['an empty body', '', 'IncompleteBody'],
    ['a size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a bare LF line end', '5\nhello\r\n0\r\n\r\n', 'InvalidRequest'],
    ['data not followed by CRLF', '5\r\nhelloX\r\n0\r\n\r\n', 'InvalidRequest'],
    ['a chunk cut short', '5\r\nhel', 'IncompleteBody'],
    ['no last chunk', '5\r\nhello\r\n', 'IncompleteBody'],
    ['a huge announced chunk then the end', 'fffffff\r\nhello', 'IncompleteBody'],
    ['more bytes than announced', '6\r\nhello!\r\n0\r\n\r\n', 'InvalidRequest'],
    ['data after the end', '5\r\nhello\r\n0\r\n\r\ntrailing junk', 'InvalidRequest'],
  ])('%s', async (_name, body, expected) => {
    await expect(decodeAll(plain(5), Buffer.from(body))).rejects.toMatchObject({ code: expected });
  });

  it('a chunk header line that never ends is refused after 4 KiB, not buffered', async () => {
    const endless = Array.from({ length: 64 }, () => Buffer.alloc(1024, 'a'));
    await expect(decodeAll(plain(5), endless)).rejects.toMatchObject({ code: 'InvalidRequest' });
  });

  it('a signed decoder refuses a chunk without its signature', async () => {
    const seed = { kind: 'aws-chunked', trailers: false, trailerChecksum: null, decodedLength: 5 } as const;
    const { ChunkSigning } = await import('../../api/s3/sigv4/payload.js');
    const decoder = new AwsChunkedDecoder({ ...seed, signing: new ChunkSigning(createSecretKey(Buffer.alloc(32)), '20260101T000000Z', 's', '0'.repeat(64)) });
    await expect(decodeAll(decoder, Buffer.from('5\r\nhello\r\n0\r\n\r\n'))).rejects.toMatchObject({ code: 'InvalidRequest' });
  });
});

describe('body checks of the non-chunked modes', () => {
  it('contentSha256Check passes the signed body and fails any other with XAmzContentSHA256Mismatch', async () => {
    const body = randomBytes(50_000);
    expect((await decodeAll(contentSha256Check(hex256(body)), [body.subarray(0, 7), body.subarray(7)])).equals(body)).toBe(true);
    await expect(decodeAll(contentSha256Check(hex256(body)), body.subarray(1))).rejects.toMatchObject({ code: 'XAmzContentSHA256Mismatch' });
  });

  it.each(CHECKSUM_ALGORITHMS)('checksumCheck %s: BadDigest when the header checksum differs', async (algorithm) => {
    const body = randomBytes(10_000);
    const good = await checksumOf(algorithm, body);
    expect((await decodeAll(checksumCheck(algorithm, good), body)).equals(body)).toBe(true);
    await expect(decodeAll(checksumCheck(algorithm, good), Buffer.concat([body, Buffer.from('x')]))).rejects.toMatchObject({ code: 'BadDigest' });
  });
});

describe('payload headers that name no valid mode', () => {
  const signed = async (headers: Record<string, string>): Promise<Outcome> => {
    const req = await signHttp({
      method: 'PUT',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: s3.port,
      path: '/bucket/k',
      query: {},
      headers: { host: `127.0.0.1:${s3.port}`, ...headers },
    });
    const before = s3.outcomes.length;
    await new Promise<void>((resolve, reject) => {
      const r = httpRequest({ host: '127.0.0.1', port: s3.port, method: 'PUT', path: '/bucket/k', headers: req.headers }, (res) =>
        res.resume().on('end', resolve),
      );
      r.on('error', reject);
      r.end();
    });
    expect(s3.outcomes.length).toBe(before + 1);
    return s3.outcomes.at(-1)!;
  };

  it('an unknown x-amz-content-sha256, a missing decoded length, an unsupported trailer', async () => {
    expect((await signed({ 'x-amz-content-sha256': 'STREAMING-SOMETHING' })).result).toMatchObject({ ok: false, code: 'InvalidArgument' });
    expect((await signed({ 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' })).result).toMatchObject({
      ok: false,
      code: 'MissingContentLength',
    });
    expect(
      (
        await signed({
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-decoded-content-length': '0',
          'x-amz-trailer': 'x-amz-checksum-md5',
        })
      ).result,
    ).toMatchObject({ ok: false, code: 'InvalidRequest' });
  });
});
