// SigV4 verification of one request, header or presigned form, as S3 does it: the same checks in the
// same spirit, answered with S3's error codes. The body is checked afterwards by payloadStream().
import { canonicalHeaders, canonicalQuery, canonicalRequest, canonicalUri, headerValues, parseQuery, stringToSign, type HeaderBag } from './canonical.js';
import { fail, SIGNATURE_MISMATCH_MESSAGE, type SigV4Failure } from './errors.js';
import { ALGORITHM, formatAmzDate, parseAmzDate, parseAuthorizationHeader, parsePresignedQuery, sigV4Form, type ParsedAuth } from './parse.js';
import { ChunkSigning, payloadMode, UNSIGNED_PAYLOAD, type PayloadMode } from './payload.js';
import { signaturesEqual, signHex, signingKey } from '../../../domain/sigv4-key.js';

/** S3 refuses a header-signed request whose time is further than this from the server's. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface SigV4Request {
  method: string;
  /** The path as received (percent-encoded, no query): what the client signed, before any decoding. */
  rawPath: string;
  /** The query string as received, without '?'. */
  rawQuery: string;
  /** Lower-cased header names, as Node's IncomingMessage.headers. */
  headers: HeaderBag;
  /** Node's IncomingMessage.rawHeaders, when available: repeated headers are then joined exactly as signed. */
  rawHeaders?: readonly string[];
}

export interface SigV4Options {
  /** The secret of an access key id, or null when the key is unknown or revoked. */
  secretFor(accessKeyId: string): Promise<string | null>;
  /** Clock, milliseconds since the epoch. */
  now?: () => number;
  /** When set, the credential scope must name this region (else AuthorizationHeaderMalformed). */
  region?: string;
  /** The service the scope must name; "s3". */
  service?: string;
}

export interface SigV4Success {
  ok: true;
  form: 'header' | 'presigned';
  accessKeyId: string;
  region: string;
  service: string;
  payload: PayloadMode;
  /** When a presigned URL stops working. */
  expiresAt?: Date;
}

export type SigV4Result = SigV4Success | SigV4Failure;

/** Splits Node's req.url (origin form) into the raw path and raw query the verifier takes. */
export function splitRequestUrl(url: string): { rawPath: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

/**
 * Whether a request is signed the AWS way, and in which form: the S3 dispatch rule (such a request is an S3
 * request whatever its path). An "AWS " (SigV2) header counts too, so it gets S3's answer, not a 404.
 */
export function signedRequestForm(headers: HeaderBag, rawQuery: string): 'header' | 'presigned' | null {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string' && /^AWS(4-HMAC-SHA256[ ,]| )/.test(authorization)) return 'header';
  const query = parseQuery(rawQuery);
  // A SigV2 presigned URL (AWSAccessKeyId, Signature, Expires) is S3's too: it gets S3's refusal.
  if (query) return sigV4Form(undefined, query) ?? (isSigV2Query(query) ? 'presigned' : null);
  return /(^|&)(X-Amz-Algorithm|AWSAccessKeyId)=/.test(rawQuery) ? 'presigned' : null;
}

const isSigV2Query = (query: readonly { name: string }[]): boolean =>
  query.some((p) => p.name === 'AWSAccessKeyId') && query.some((p) => p.name === 'Signature');

function one(values: Map<string, string[]>, name: string): string | undefined {
  const list = values.get(name);
  return list === undefined ? undefined : list.join(',');
}

export async function verifySigV4(request: SigV4Request, options: SigV4Options): Promise<SigV4Result> {
  const now = (options.now ?? Date.now)();
  const expectedService = options.service ?? 's3';
  const query = parseQuery(request.rawQuery);
  const uri = canonicalUri(request.rawPath);
  if (!query || !uri) return fail('InvalidURI', "Couldn't parse the specified URI.");
  const headers = headerValues(request.headers, request.rawHeaders);
  const authorization = one(headers, 'authorization');

  const form = sigV4Form(authorization, query);
  if (form === null) {
    if (authorization?.startsWith('AWS ') || isSigV2Query(query)) {
      return fail('InvalidRequest', `The authorization mechanism you have provided is not supported. Please use ${ALGORITHM}.`);
    }
    return fail('AccessDenied', 'Access Denied');
  }
  const presignedToo = query.some((p) => p.name === 'X-Amz-Algorithm');
  if ((form === 'presigned' && authorization !== undefined) || (form === 'header' && presignedToo)) {
    return fail(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  const parsed: ParsedAuth | SigV4Failure = form === 'header' ? parseAuthorizationHeader(authorization!) : parsePresignedQuery(query);
  if ('ok' in parsed) return parsed;
  const malformedCode = form === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError';
  const { credential, signedHeaders } = parsed;

  if (options.region !== undefined && credential.region !== options.region) {
    return fail(malformedCode, `the region '${credential.region}' is wrong; expecting '${options.region}'`);
  }
  if (credential.service !== expectedService) {
    return fail(malformedCode, `incorrect service "${credential.service}". This endpoint belongs to "${expectedService}".`);
  }
  if (!signedHeaders.includes('host')) return fail(malformedCode, 'SignedHeaders must include host.');
  // lakesync keys are long-lived service-account keys: no STS session tokens exist to check one against.
  if (headers.has('x-amz-security-token') || query.some((p) => p.name === 'X-Amz-Security-Token')) {
    return fail('InvalidToken', 'The provided token is malformed or otherwise invalid: lakesync keys take no session token.');
  }

  // The request time: x-amz-date (or Date) for the header form, X-Amz-Date for a presigned URL.
  let amzDate: string | undefined;
  if (form === 'presigned') amzDate = query.find((p) => p.name === 'X-Amz-Date')!.value;
  else {
    amzDate = one(headers, 'x-amz-date');
    const httpDate = one(headers, 'date');
    if (amzDate === undefined && httpDate !== undefined && !Number.isNaN(Date.parse(httpDate))) {
      amzDate = formatAmzDate(Date.parse(httpDate));
    }
  }
  const signedAt = amzDate === undefined ? null : parseAmzDate(amzDate);
  if (signedAt === null) {
    return form === 'header'
      ? fail('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
      : fail('AuthorizationQueryParametersError', "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  if (credential.date !== amzDate!.slice(0, 8)) {
    return fail(malformedCode, `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate!.slice(0, 8)}".`);
  }
  let expiresAt: Date | undefined;
  if (form === 'header') {
    if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
      return fail('RequestTimeTooSkewed', "The difference between the request time and the server's time is too large.");
    }
  } else {
    if (signedAt - now > MAX_CLOCK_SKEW_MS) return fail('AccessDenied', 'Request is not valid yet');
    expiresAt = new Date(signedAt + parsed.expiresSeconds! * 1000);
    if (now > expiresAt.getTime()) return fail('AccessDenied', 'Request has expired');
  }

  // Every x-amz-* header the request carries must be covered by the signature.
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && !signedHeaders.includes(name)) {
      return fail('AccessDenied', 'There were headers present in the request which were not signed');
    }
  }
  const contentSha256 = one(headers, 'x-amz-content-sha256');
  if (form === 'header' && contentSha256 === undefined) {
    return fail('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }

  const secret = await options.secretFor(credential.accessKeyId);
  if (secret === null) {
    return fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }

  // A presigned URL signs UNSIGNED-PAYLOAD unless it carries x-amz-content-sha256 (header, or hoisted into the query).
  const payloadHash =
    contentSha256 ?? (form === 'presigned' ? query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value : undefined) ?? UNSIGNED_PAYLOAD;
  const canonical = canonicalRequest({
    method: request.method.toUpperCase(),
    uri,
    query: canonicalQuery(query, form === 'presigned' ? 'X-Amz-Signature' : undefined),
    headers: canonicalHeaders(headers, signedHeaders),
    signedHeaders,
    payloadHash,
  });
  const key = signingKey(secret, credential.date, credential.region, credential.service);
  const expected = signHex(key, stringToSign(amzDate!, credential.scope, canonical));
  if (!signaturesEqual(expected, parsed.signature)) return fail('SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE);

  const payload = payloadMode(
    payloadHash,
    (name) => one(headers, name),
    () => new ChunkSigning(key, amzDate!, credential.scope, expected),
  );
  if ('ok' in payload) return payload;
  return {
    ok: true,
    form,
    accessKeyId: credential.accessKeyId,
    region: credential.region,
    service: credential.service,
    payload,
    ...(expiresAt ? { expiresAt } : {}),
  };
}
