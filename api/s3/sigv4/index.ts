// SigV4 for the S3 endpoint: verify a request (verifySigV4), then stream its body through
// payloadStream(result.payload), which yields the object's bytes and fails with the S3 error code when
// the body breaks what was signed. signedRequestForm tells whether a request is AWS-signed at all.
export { SIGV4_ERROR_STATUS, SigV4Error, type SigV4ErrorCode, type SigV4Failure } from './errors.js';
export { MAX_PRESIGN_EXPIRES_SECONDS } from './parse.js';
export { CHECKSUM_ALGORITHMS, checksumAlgorithmOfHeader, type ChecksumAlgorithm } from './checksums.js';
export type { PayloadMode } from './payload.js';
export { AwsChunkedDecoder } from './chunked.js';
export { checksumCheck, contentSha256Check, payloadStream } from './streams.js';
export {
  MAX_CLOCK_SKEW_MS,
  signedRequestForm,
  splitRequestUrl,
  verifySigV4,
  type SigV4Options,
  type SigV4Request,
  type SigV4Result,
  type SigV4Success,
} from './verify.js';
