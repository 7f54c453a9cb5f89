// Parsing the two SigV4 forms: the Authorization header and the X-Amz-* query parameters of a presigned URL.
import type { QueryParam } from './canonical.js';
import { fail, type SigV4Failure } from './errors.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** A presigned URL lives at most 7 days. */
export const MAX_PRESIGN_EXPIRES_SECONDS = 604_800;

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  /** "date/region/service/aws4_request", as signed. */
  scope: string;
}

export interface ParsedAuth {
  form: 'header' | 'presigned';
  credential: Credential;
  signedHeaders: string[];
  signature: string;
  /** X-Amz-Expires of a presigned URL. */
  expiresSeconds?: number;
}

/** Which SigV4 form a request carries, if any: what routes a request to the S3 dispatcher. */
export function sigV4Form(authorization: string | undefined, query: readonly QueryParam[]): 'header' | 'presigned' | null {
  if (authorization !== undefined && /^AWS4-HMAC-SHA256[ ,]/.test(authorization)) return 'header';
  if (query.some((p) => p.name === 'X-Amz-Algorithm')) return 'presigned';
  return null;
}

function parseCredential(text: string, malformed: (m: string) => SigV4Failure): Credential | SigV4Failure {
  const parts = text.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    return malformed(`the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date)) return malformed(`Invalid credential date "${date}". This date is not in yyyyMMdd format.`);
  if (terminator !== 'aws4_request') {
    return malformed(`the Credential has an invalid terminal "${terminator}". This should be "aws4_request".`);
  }
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/aws4_request` };
}

function parseSignedHeaders(text: string): string[] | null {
  const names = text.split(';');
  if (names.some((n) => !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n))) return null;
  return names;
}

export function parseAuthorizationHeader(header: string): ParsedAuth | SigV4Failure {
  const malformed = (m: string): SigV4Failure => fail('AuthorizationHeaderMalformed', `The authorization header is malformed; ${m}`);
  const rest = header.slice(ALGORITHM.length);
  const fields = new Map<string, string>();
  for (const piece of rest.split(',')) {
    const item = piece.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return malformed(`the authorization component "${item}" is malformed.`);
    fields.set(item.slice(0, eq), item.slice(eq + 1));
  }
  const credentialText = fields.get('Credential');
  const signedText = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credentialText === undefined) return malformed('the Credential is missing.');
  if (signedText === undefined) return malformed('the SignedHeaders is missing.');
  if (signature === undefined) return malformed('the Signature is missing.');
  const credential = parseCredential(credentialText, malformed);
  if ('ok' in credential) return credential;
  const signedHeaders = parseSignedHeaders(signedText);
  if (!signedHeaders) return malformed('the SignedHeaders is malformed.');
  return { form: 'header', credential, signedHeaders, signature };
}

export function parsePresignedQuery(query: readonly QueryParam[]): ParsedAuth | SigV4Failure {
  const error = (m: string): SigV4Failure => fail('AuthorizationQueryParametersError', m);
  const get = (name: string): string | undefined => query.find((p) => p.name === name)?.value;
  const algorithm = get('X-Amz-Algorithm');
  const credentialText = get('X-Amz-Credential');
  const signature = get('X-Amz-Signature');
  const date = get('X-Amz-Date');
  const signedText = get('X-Amz-SignedHeaders');
  const expires = get('X-Amz-Expires');
  if (algorithm !== ALGORITHM) return error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  if ([credentialText, signature, date, signedText, expires].some((v) => v === undefined)) {
    return error(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (!/^\d{1,10}$/.test(expires!)) return error('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 1) return error('X-Amz-Expires must be at least 1 second');
  if (expiresSeconds > MAX_PRESIGN_EXPIRES_SECONDS) {
    return error(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_EXPIRES_SECONDS}`);
  }
  const credential = parseCredential(credentialText!, (m) => error(`Error parsing the X-Amz-Credential parameter; ${m}`));
  if ('ok' in credential) return credential;
  const signedHeaders = parseSignedHeaders(signedText!);
  if (!signedHeaders) return error('Error parsing the X-Amz-SignedHeaders parameter.');
  return { form: 'presigned', credential, signedHeaders, signature: signature!, expiresSeconds };
}

/** Milliseconds since the epoch of an ISO 8601 basic timestamp (20130524T000000Z), or null. */
export function parseAmzDate(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Reject 20130230T… and 25:00:00: Date.UTC would roll them over.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi) {
    return null;
  }
  return ms;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
