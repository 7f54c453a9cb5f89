// The flexible checksums S3 accepts (x-amz-checksum-*), base64 of the big-endian digest as S3 sends them.
// CRCs come from AWS's own package (CRC32 rides on zlib.crc32 where Node has it); SHA from node:crypto.
import { createHash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface RunningChecksum {
  update(chunk: Uint8Array): void;
  digestBase64(): Promise<string>;
}

export function createChecksum(algorithm: ChecksumAlgorithm): RunningChecksum {
  if (algorithm === 'sha1' || algorithm === 'sha256') {
    const hash = createHash(algorithm);
    return { update: (c) => void hash.update(c), digestBase64: async () => hash.digest('base64') };
  }
  const crc = algorithm === 'crc32' ? new Crc32() : algorithm === 'crc32c' ? new Crc32c() : new Crc64Nvme();
  return {
    update: (c) => crc.update(c),
    digestBase64: async () => Buffer.from(await crc.digest()).toString('base64'),
  };
}

/** "x-amz-checksum-crc32" → "crc32"; null for any other name. */
export function checksumAlgorithmOfHeader(name: string): ChecksumAlgorithm | null {
  const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(name.toLowerCase());
  return m && (CHECKSUM_ALGORITHMS as readonly string[]).includes(m[1]!) ? (m[1] as ChecksumAlgorithm) : null;
}

/** S3's name for the algorithm in messages ("The CRC32 you specified did not match…"). */
export function checksumDisplayName(algorithm: ChecksumAlgorithm): string {
  return algorithm.toUpperCase();
}
