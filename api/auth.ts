import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { textProblem } from '../domain/text.js';
import { ApiError } from './errors.js';

export type Scope = 'read' | 'write' | 'admin';

export interface Caller {
  org: string;
  subject: string | null;
  scopes: Set<Scope>;
}

export interface AuthConfig {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS of an OIDC provider: RS256/ES256 client-credentials tokens. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  orgClaim: string;
}

/** Verifies a bearer JWT with either key, and reads the organisation and scopes from its claims. */
export class Authenticator {
  private readonly hmacKey?: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(private readonly config: AuthConfig) {
    if (!config.secret && !config.jwksUrl) throw new Error('auth needs a shared secret or a JWKS URL');
    if (config.secret) this.hmacKey = new TextEncoder().encode(config.secret);
    if (config.jwksUrl) this.jwks = createRemoteJWKSet(new URL(config.jwksUrl));
  }

  async verify(token: string): Promise<Caller> {
    const options = { issuer: this.config.issuer, audience: this.config.audience };
    let payload: JWTPayload | undefined;
    let lastError: unknown;
    if (this.hmacKey) {
      try {
        payload = (await jwtVerify(token, this.hmacKey, { ...options, algorithms: ['HS256'] })).payload;
      } catch (err) {
        lastError = err;
      }
    }
    if (!payload && this.jwks) {
      try {
        payload = (await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256', 'ES256'] })).payload;
      } catch (err) {
        lastError = err;
      }
    }
    if (!payload) throw unauthenticated(describeJoseError(lastError));
    const org = payload[this.config.orgClaim];
    if (typeof org !== 'string' || org.length === 0) throw unauthenticated(`token has no ${this.config.orgClaim} claim`);
    // The org lands in every query and row of the caller's: it is text like any other from the edge.
    checkClaim(this.config.orgClaim, org);
    if (org.length > MAX_ORG_LENGTH) throw unauthenticated(`token's ${this.config.orgClaim} claim is longer than ${MAX_ORG_LENGTH} characters`);
    if (typeof payload.sub === 'string') checkClaim('sub', payload.sub);
    for (const name of ['scope', 'scp'] as const) {
      const raw = payload[name];
      for (const s of Array.isArray(raw) ? raw : [raw]) if (typeof s === 'string') checkClaim(name, s);
    }
    return { org, subject: typeof payload.sub === 'string' ? payload.sub : null, scopes: scopesOf(payload) };
  }
}

const MAX_ORG_LENGTH = 256;

/** A claim with control characters or unpaired surrogates makes the whole token unacceptable. */
function checkClaim(name: string, value: string): void {
  const problem = textProblem(value);
  if (problem) throw unauthenticated(`token's ${name} claim ${problem}`);
}

/** OAuth `scope` (space-separated) or `scp` (array or string). */
function scopesOf(payload: JWTPayload): Set<Scope> {
  const raw = payload.scope ?? payload.scp;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
  return new Set(list.filter((s): s is Scope => s === 'read' || s === 'write' || s === 'admin'));
}

function describeJoseError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === 'ERR_JWT_EXPIRED') return 'token has expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'token signature is not valid';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return `token claim is not valid: ${(err as Error).message}`;
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return 'token algorithm is not allowed';
  return 'token is not a valid JWT';
}

function unauthenticated(problem: string): ApiError {
  return new ApiError('UNAUTHENTICATED', `authorization: ${problem}`, [{ field: 'authorization', problem }]);
}

/** The token of an `Authorization` value (an HTTP header or gRPC metadata), or the refusal to answer with. */
export function bearerToken(value: string | undefined): string {
  // RFC 6750: "Bearer", one or more spaces (no other whitespace), a b64token.
  const match = value ? /^Bearer +([A-Za-z0-9\-_.~+/]+=*)$/i.exec(value) : null;
  if (!match) throw unauthenticated(value ? 'must be "Bearer <token>"' : 'missing bearer token');
  return match[1]!;
}

/** Refuses a caller without the scope (`admin` implies all). */
export function requireScope(caller: Caller, need: Scope): void {
  if (!caller.scopes.has(need) && !caller.scopes.has('admin')) {
    throw new ApiError('PERMISSION_DENIED', `authorization: token lacks the ${need} scope`, [{ field: 'authorization', problem: `lacks the ${need} scope` }]);
  }
}

/** Bearer auth on every route but the public ones, each needing the scope `scopeOf` names; the caller lands in `res.locals.caller`. */
export function authMiddleware(auth: Authenticator, isPublic: (req: Request) => boolean, scopeOf: (req: Request) => Scope): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (isPublic(req)) return next();
    let token: string;
    try {
      token = bearerToken(req.headers.authorization);
    } catch (err) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return next(err);
    }
    auth
      .verify(token)
      .then((caller) => {
        requireScope(caller, scopeOf(req));
        res.locals.caller = caller;
        next();
      })
      .catch((err) => {
        if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
        next(err);
      });
  };
}

export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new ApiError('UNAUTHENTICATED', 'authorization: missing bearer token', [{ field: 'authorization', problem: 'missing bearer token' }]);
  return caller;
}
