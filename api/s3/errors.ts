// S3's errors as the S3 endpoint answers them: S3's codes, HTTP statuses and XML body (AWS S3 API reference,
// "Error responses"). Everything an S3 operation throws becomes one of these; nothing else reaches an S3 client.
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE } from '../../domain/failures.js';
import { SIGV4_ERROR_STATUS, SigV4Error } from './sigv4/index.js';
import { BadDigestError } from '../../lake/hashing.js';

export const S3_ERROR_STATUS = {
  ...SIGV4_ERROR_STATUS,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  InternalError: 500,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidLocationConstraint: 400,
  InvalidPartNumber: 416,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  OperationAborted: 409,
  PreconditionFailed: 412,
  ServiceUnavailable: 503,
  SlowDown: 503,
} as const;

export type S3ErrorCode = keyof typeof S3_ERROR_STATUS;

/** Fields S3 adds to some errors' bodies (BucketName, Key, ArgumentName, …), in order. */
export type S3ErrorFields = Record<string, string>;

export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    readonly fields: S3ErrorFields = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.status = S3_ERROR_STATUS[code];
  }

  static noSuchBucket(bucket: string): S3Error {
    return new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
  }
  static noSuchKey(key: string): S3Error {
    return new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
  }
  static accessDenied(): S3Error {
    return new S3Error('AccessDenied', 'Access Denied');
  }
  static invalidArgument(name: string, message: string, value?: string): S3Error {
    return new S3Error('InvalidArgument', message, { ArgumentName: name, ...(value === undefined ? {} : { ArgumentValue: value }) });
  }
  static notImplemented(what: string): S3Error {
    return new S3Error('NotImplemented', `A header or query you provided implies functionality that is not implemented: ${what}`);
  }
}

/**
 * An error as the S3 error to answer: a body stream's (SigV4Error carries its S3 code), or the lake refusing a
 * key (a directory lake's file where a folder is needed, or the reverse; a key too long for its filesystem).
 */
export function asS3Error(err: unknown): S3Error | null {
  if (err instanceof S3Error) return err;
  if (err instanceof SigV4Error) return new S3Error(err.code, err.message);
  if (err instanceof BadDigestError)
    return err.digest === 'md5'
      ? new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.')
      : new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  if (err instanceof ApplicationFailure && (err.type === FAILURE.lakeKeyConflict || err.type === FAILURE.unstorableKey)) {
    const problem = String(err.details?.[0] ?? err.message);
    return err.type === FAILURE.lakeKeyConflict
      ? new S3Error('InvalidRequest', `The key clashes with a stored object in this directory lake: it ${problem}.`)
      : S3Error.invalidArgument('key', `Object key ${problem}.`);
  }
  return null;
}
