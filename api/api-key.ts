/**
 * DataInsider's `api_key`: a service-account key written
 * `<accessKeyId>.<secret>` and limited to exactly one bucket, the lake
 * bucket its syncs land in. It arrives as `api_key` in a JSON body or as the
 * bearer token (DataInsider's upload, list and history calls have no body to
 * carry it). The secret is compared, never logged, stored or answered.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Scope } from './auth.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { findActiveKey } from './service-keys.js';
import { findBucket } from './routes/lookup.js';

const API_KEY = /^(LKSA[A-Z0-9]{16})\.([A-Za-z0-9+/]{40})$/;

const unauthenticated = (problem: string) => new ApiError('UNAUTHENTICATED', `api_key: ${problem}`, [{ field: 'api_key', problem }]);

/** The api_key of a request: the body's `api_key`, else `Authorization: Bearer <api_key>`. */
function presented(req: Request): string {
  const body: unknown = req.body;
  const inBody = body !== null && typeof body === 'object' && 'api_key' in body ? (body as { api_key: unknown }).api_key : undefined;
  if (inBody !== undefined) {
    if (typeof inBody !== 'string') throw unauthenticated('must be a string');
    return inBody;
  }
  const header = req.headers.authorization;
  const match = header ? /^Bearer +(\S+)$/i.exec(header) : null;
  if (!match)
    throw unauthenticated(header ? 'the authorization header must be "Bearer <api_key>"' : 'missing: send api_key in the body or as the bearer token');
  return match[1]!;
}

/**
 * The organisation and bucket the request's api_key reaches, once it holds
 * `scope`: 401 for a key that is malformed, unknown, revoked or has another
 * secret (one answer for all), 403 for one without the scope or not limited
 * to one bucket.
 */
export async function apiKeyCaller(deps: ApiDeps, req: Request, scope: Scope) {
  const m = API_KEY.exec(presented(req));
  const key = m ? await findActiveKey(deps, m[1]!) : null;
  const given = Buffer.from(m?.[2] ?? '');
  const stored = Buffer.from(key?.secret ?? '');
  if (!key || given.length !== stored.length || !timingSafeEqual(given, stored)) throw unauthenticated('is not a valid key');
  if (!key.scopes.includes(scope) && !key.scopes.includes('admin'))
    throw new ApiError('PERMISSION_DENIED', `api_key: lacks the ${scope} scope`, [{ field: 'api_key', problem: `lacks the ${scope} scope` }]);
  // DataInsider's calls name no bucket: the key's one bucket is where its syncs live.
  if (key.buckets?.length !== 1)
    throw new ApiError('PERMISSION_DENIED', 'api_key: must be limited to exactly one bucket (POST /admin/keys with "buckets": [name])', [
      { field: 'api_key', problem: 'must be limited to exactly one bucket' },
    ]);
  const bucket = await findBucket(deps, key.buckets[0]!, key.org);
  return { org: key.org, bucket };
}
