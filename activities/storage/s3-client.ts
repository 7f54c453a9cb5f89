import { S3Client } from '@aws-sdk/client-s3';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { EgressPolicy } from '../../domain/egress-policy.js';
import { egressAgents } from '../net/egress.js';

export interface S3ClientOptions {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  maxSockets?: number;
  /** Tenant-given endpoints connect only where this policy allows; operator-configured ones (the lake) pass none. */
  egress?: EgressPolicy;
  /**
   * CRC checksums of request and response bodies only where the operation requires one, instead of the SDK's
   * default of every upload and download. For the lake: lakesync hashes what it writes itself (MD5, the ETag),
   * and the default cost a third of the CPU of every byte the S3 endpoint serves (GET of 256 MiB: ~720 against ~540 ms).
   */
  checksumsOnlyWhenRequired?: boolean;
}

/** One S3 client per endpoint+credentials, with a socket pool sized for parallel copies. */
export function createS3Client(o: S3ClientOptions): S3Client {
  const maxSockets = o.maxSockets ?? 128;
  return new S3Client({
    endpoint: o.endpoint,
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey, sessionToken: o.sessionToken },
    ...(o.checksumsOnlyWhenRequired ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
    requestHandler: new NodeHttpHandler(
      o.egress
        ? egressAgents(o.egress, { keepAlive: true, maxSockets })
        : { httpAgent: new Agent({ keepAlive: true, maxSockets }), httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }) },
    ),
    // Retries of whole objects are ours (recorded per object), but transient
    // socket errors are still worth the SDK's own quick retries.
    maxAttempts: 3,
  });
}
