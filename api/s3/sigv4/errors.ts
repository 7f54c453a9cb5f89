// The S3 error codes SigV4 verification answers with, and their HTTP statuses (AWS S3 API reference, "Error responses").
export const SIGV4_ERROR_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  IncompleteBody: 400,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidRequest: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  MalformedTrailerError: 400,
  MissingContentLength: 411,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type SigV4ErrorCode = keyof typeof SIGV4_ERROR_STATUS;

export interface SigV4Failure {
  ok: false;
  code: SigV4ErrorCode;
  message: string;
}

export function fail(code: SigV4ErrorCode, message: string): SigV4Failure {
  return { ok: false, code, message };
}

/** What the body streams (content hash, aws-chunked decoder, checksums) fail with: the S3 code travels with the error. */
export class SigV4Error extends Error {
  readonly status: number;
  constructor(
    readonly code: SigV4ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SigV4Error';
    this.status = SIGV4_ERROR_STATUS[code];
  }
}

export const SIGNATURE_MISMATCH_MESSAGE = 'The request signature we calculated does not match the signature you provided. Check your key and signing method.';
