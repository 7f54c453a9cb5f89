// The S3 operations the endpoint serves, found by what the request names (service, bucket or object), its
// method and its subresource query parameter. A request for anything else answers NotImplemented, never a
// wrong success: S3 subresources the table does not list, and headers asking for features lakesync lacks.
import type { S3Handler } from './context.js';
import { S3Error } from './errors.js';
import { listBuckets } from './ops/service.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket } from './ops/bucket.js';
import { listObjectsV1, listObjectsV2 } from './ops/listing.js';
import { getObject, headObject } from './ops/object-read.js';
import { deleteObject, putObject } from './ops/object-write.js';
import { copyObject } from './ops/copy.js';
import { deleteObjects } from './ops/delete-objects.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listPartsOp,
  uploadPart,
  uploadPartCopy,
} from './ops/multipart.js';

type Target = 'service' | 'bucket' | 'object';
type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export interface S3Operation {
  name: string;
  target: Target;
  method: Method;
  /** The query parameter naming the subresource (`uploads`, `delete`, `location`…); none for the plain operation. */
  subresource?: string;
  /** A query parameter value the operation needs (`list-type=2`). */
  query?: { name: string; value: string };
  /** A header that selects the operation (`x-amz-copy-source` makes a PUT a CopyObject). */
  header?: string;
  /** Other subresource parameters it takes (`uploadId`, `partNumber`). */
  accepts?: string[];
  /**
   * Its x-amz-checksum-* header is not the request body's checksum (CompleteMultipartUpload: the object's
   * composite checksum; CreateMultipartUpload: none of an empty body), so the body is not checked against it.
   */
  objectChecksumHeader?: true;
  handler: S3Handler;
}

/** More specific entries first: the first that matches serves the request. */
export const S3_OPERATIONS: S3Operation[] = [
  { name: 'ListBuckets', target: 'service', method: 'GET', handler: listBuckets },
  { name: 'GetBucketLocation', target: 'bucket', method: 'GET', subresource: 'location', handler: getBucketLocation },
  { name: 'ListMultipartUploads', target: 'bucket', method: 'GET', subresource: 'uploads', handler: listMultipartUploads },
  { name: 'ListObjectsV2', target: 'bucket', method: 'GET', query: { name: 'list-type', value: '2' }, handler: listObjectsV2 },
  { name: 'ListObjects', target: 'bucket', method: 'GET', handler: listObjectsV1 },
  { name: 'DeleteObjects', target: 'bucket', method: 'POST', subresource: 'delete', handler: deleteObjects },
  { name: 'HeadBucket', target: 'bucket', method: 'HEAD', handler: headBucket },
  { name: 'CreateBucket', target: 'bucket', method: 'PUT', handler: createBucket },
  { name: 'DeleteBucket', target: 'bucket', method: 'DELETE', handler: deleteBucket },
  {
    name: 'CreateMultipartUpload',
    target: 'object',
    method: 'POST',
    subresource: 'uploads',
    objectChecksumHeader: true,
    handler: createMultipartUpload,
  },
  {
    name: 'CompleteMultipartUpload',
    target: 'object',
    method: 'POST',
    subresource: 'uploadId',
    objectChecksumHeader: true,
    handler: completeMultipartUpload,
  },
  {
    name: 'UploadPartCopy',
    target: 'object',
    method: 'PUT',
    subresource: 'uploadId',
    header: 'x-amz-copy-source',
    accepts: ['partNumber'],
    handler: uploadPartCopy,
  },
  { name: 'UploadPart', target: 'object', method: 'PUT', subresource: 'uploadId', accepts: ['partNumber'], handler: uploadPart },
  { name: 'AbortMultipartUpload', target: 'object', method: 'DELETE', subresource: 'uploadId', handler: abortMultipartUpload },
  { name: 'ListParts', target: 'object', method: 'GET', subresource: 'uploadId', handler: listPartsOp },
  { name: 'GetObject', target: 'object', method: 'GET', accepts: ['partNumber'], handler: getObject },
  { name: 'HeadObject', target: 'object', method: 'HEAD', accepts: ['partNumber'], handler: headObject },
  { name: 'CopyObject', target: 'object', method: 'PUT', header: 'x-amz-copy-source', handler: copyObject },
  { name: 'PutObject', target: 'object', method: 'PUT', handler: putObject },
  { name: 'DeleteObject', target: 'object', method: 'DELETE', handler: deleteObject },
];

/**
 * S3's subresources and operation-selecting parameters (its API reference): a request carrying one that its
 * operation does not take asks for something lakesync does not do.
 */
const SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadataConfiguration',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'select-type',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

export function s3Operation(target: Target, method: string, query: ReadonlyMap<string, string>, headers: Record<string, unknown>): S3Operation {
  const m = method.toUpperCase();
  const op = S3_OPERATIONS.find(
    (o) =>
      o.target === target &&
      o.method === m &&
      (o.subresource === undefined || query.has(o.subresource)) &&
      (o.query === undefined || query.get(o.query.name) === o.query.value) &&
      (o.header === undefined || headers[o.header] !== undefined),
  );
  if (!op) {
    const known = [...query.keys()].find((name) => SUBRESOURCES.has(name));
    throw S3Error.notImplemented(known ? `${m} ?${known}` : `${m} on ${target === 'service' ? 'the service' : `a ${target}`}`);
  }
  for (const name of query.keys()) {
    if (SUBRESOURCES.has(name) && name !== op.subresource && !(op.accepts ?? []).includes(name)) throw S3Error.notImplemented(`${op.name} with ?${name}`);
  }
  return op;
}

/** Headers asking for what lakesync does not store (encryption, tags, locks, ACL grants, other storage classes): NotImplemented rather than silently ignored. */
export function refuseUnsupportedHeaders(headers: Record<string, string | string[] | undefined>, query?: ReadonlyMap<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const v = String(value).trim();
    const unsupported =
      name.startsWith('x-amz-server-side-encryption') ||
      name === 'x-amz-tagging' ||
      name.startsWith('x-amz-object-lock-') ||
      name === 'x-amz-bucket-object-lock-enabled' ||
      name === 'x-amz-website-redirect-location' ||
      name.startsWith('x-amz-grant-') ||
      (name === 'x-amz-acl' && !['private', 'bucket-owner-full-control'].includes(v)) ||
      (name === 'x-amz-storage-class' && v !== 'STANDARD') ||
      // Appends, and a CopyObject of part of an object: S3 would act on them, so ignoring them would be a wrong success.
      name === 'x-amz-write-offset-bytes' ||
      (name === 'x-amz-copy-source-range' && !query?.has('partNumber'));
    if (unsupported) throw S3Error.notImplemented(`the ${name} header`);
  }
}
