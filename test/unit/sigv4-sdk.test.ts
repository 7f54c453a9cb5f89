// A real @aws-sdk/client-s3 against a loopback server that verifies each request with verifySigV4 and
// decodes its body with payloadStream: the payload modes and trailing checksums exactly as current SDKs
// send them by default, and when a checksum algorithm is forced.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client, type ChecksumAlgorithm } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackS3, type LoopbackS3, type Outcome } from '../support/loopback-s3.js';

const KEY = { accessKeyId: 'LSAKSDKTEST0000001', secretAccessKey: 'sdk/secret+key=value~' };
let s3: LoopbackS3;
let client: S3Client;

function newClient(credentials = KEY): S3Client {
  return new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

beforeAll(async () => {
  s3 = await startLoopbackS3({ secretFor: async (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : null) });
  client = newClient();
});
afterAll(async () => {
  client.destroy();
  await s3.close();
});

async function put(input: { key: string; body: Buffer; stream: boolean; algorithm?: ChecksumAlgorithm }): Promise<Outcome> {
  const before = s3.outcomes.length;
  await client.send(
    new PutObjectCommand({
      Bucket: 'bucket',
      Key: input.key,
      // A stream of known length is what the SDK sends aws-chunked with a trailing checksum.
      Body: input.stream ? Readable.from([input.body.subarray(0, 1000), input.body.subarray(1000)]) : input.body,
      ContentLength: input.body.length,
      ...(input.algorithm ? { ChecksumAlgorithm: input.algorithm } : {}),
    }),
  );
  expect(s3.outcomes.length).toBe(before + 1);
  return s3.outcomes.at(-1)!;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('@aws-sdk/client-s3 PutObject', () => {
  const body = randomBytes(200_000);

  it('default checksum behaviour, streaming body: STREAMING-UNSIGNED-PAYLOAD-TRAILER with the default trailing checksum', async () => {
    const outcome = await put({ key: 'dir/with space/ü+%~=.bin', body, stream: true });
    expect(outcome.result).toMatchObject({ ok: true, form: 'header', payload: { kind: 'aws-chunked', signing: null, trailers: true } });
    expect(outcome.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(outcome.bodyError).toBeUndefined();
    expect(sha(outcome.body!)).toBe(sha(body));
    // The SDK announced a trailer and the decoder checked it against the decoded bytes.
    const announced = String(outcome.headers['x-amz-trailer']);
    expect(outcome.trailerChecksum?.algorithm).toBe(announced.replace('x-amz-checksum-', ''));
    expect(['crc32', 'crc64nvme']).toContain(outcome.trailerChecksum?.algorithm);
  });

  it('default checksum behaviour, in-memory body: the body verifies whatever mode the SDK picks', async () => {
    const outcome = await put({ key: 'small.bin', body: body.subarray(0, 5000), stream: false });
    // Today's SDK signs the body's SHA-256 and sends its CRC32 as a header, which the loopback checks too.
    expect(outcome.result).toMatchObject({ ok: true, payload: { kind: 'sha256', sha256: sha(body.subarray(0, 5000)) } });
    expect(outcome.headers['x-amz-checksum-crc32']).toBeTruthy();
    expect(outcome.bodyError).toBeUndefined();
    expect(outcome.body?.equals(body.subarray(0, 5000))).toBe(true);
  });

  it.each(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const)('ChecksumAlgorithm %s, streaming: the trailing checksum verifies', async (algorithm) => {
    const outcome = await put({ key: `forced-${algorithm}`, body, stream: true, algorithm });
    expect(outcome.result.ok).toBe(true);
    expect(outcome.bodyError).toBeUndefined();
    expect(outcome.trailerChecksum?.algorithm).toBe(algorithm.toLowerCase());
    expect(sha(outcome.body!)).toBe(sha(body));
  });

  it.each(['CRC32C', 'SHA1'] as const)('ChecksumAlgorithm %s, in-memory body: verifies', async (algorithm) => {
    const outcome = await put({ key: `forced-mem-${algorithm}`, body: body.subarray(0, 3000), stream: false, algorithm });
    expect(outcome.result.ok).toBe(true);
    expect(outcome.bodyError).toBeUndefined();
    expect(outcome.body?.equals(body.subarray(0, 3000))).toBe(true);
  });

  it('the SDK surfaces S3 error codes: a wrong secret is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId', async () => {
    const wrong = newClient({ accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' });
    const unknown = newClient({ accessKeyId: 'LSAKNOSUCH', secretAccessKey: 'x' });
    try {
      await expect(wrong.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
      await expect(unknown.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
    } finally {
      wrong.destroy();
      unknown.destroy();
    }
  });
});
