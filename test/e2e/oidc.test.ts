/**
 * OIDC bearer tokens (README "API"): RS256 and ES256 tokens verified against
 * a provider's JWKS (`LAKESYNC_AUTH_JWKS_URL`), with issuer and audience
 * checked, unknown keys refused, and a rotated key picked up without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

interface Key {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(alg: Key['alg']): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = unique(alg.toLowerCase());
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const ISSUER = 'https://idp.test/';
const AUDIENCE = 'lakesync-api';

describe('OIDC tokens from a JWKS', () => {
  let ls: TestLakesync;
  let jwks: Server;
  let published: Key[] = [];
  let fetches = 0;
  let rsa: Key;
  let ec: Key;
  const org = unique('org');

  const sign = (key: Key, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; kid?: string } = {}) =>
    new SignJWT({ org, scope: 'read write admin', ...claims })
      .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject('client-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  const list = async (token: string) => call(ls.url, 'GET', '/admin/buckets', undefined, { authorization: `Bearer ${token}` });

  beforeAll(async () => {
    [rsa, ec] = await Promise.all([newKey('RS256'), newKey('ES256')]);
    published = [rsa, ec];
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    ls = await startTestLakesync({ lake: 'filesystem', env: { LAKESYNC_AUTH_JWKS_URL: url, LAKESYNC_AUTH_ISSUER: ISSUER, LAKESYNC_AUTH_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => {
    await ls?.stop();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('accepts RS256 and ES256 tokens of the provider, with the organisation from the claim', async () => {
    const bucket = unique('kb');
    const created = await call(ls.url, 'POST', '/admin/buckets', { name: bucket }, { authorization: `Bearer ${await sign(rsa)}` });
    expect(created.status).toBe(201);
    const seen = await list(await sign(ec));
    expect(seen.status).toBe(200);
    expect(seen.body.buckets.map((b: { name: string }) => b.name)).toEqual([bucket]);
    // Another organisation's token of the same provider sees none of it.
    const other = await list(await sign(ec, { org: unique('org') }));
    expect(other.status).toBe(200);
    expect(other.body.buckets).toEqual([]);
    expect(fetches).toBeGreaterThan(0);
  });

  it.each([
    ['a wrong issuer', () => sign(rsa, {}, { iss: 'https://evil.test/' }), 'iss'],
    ['a wrong audience', () => sign(ec, {}, { aud: 'someone-else' }), 'aud'],
    ['an unknown kid', () => sign(rsa, {}, { kid: 'no-such-key' }), 'not a valid JWT'],
  ])('refuses a token with %s', async (_name, token, problem) => {
    const res = await list(await token());
    expect(res.status).toBe(401);
    expect(res.body.details[0].field).toBe('authorization');
    expect(res.body.message).toContain(problem);
  });

  it('refuses a key that claims a published kid but is not the published key', async () => {
    const forged = await newKey('RS256');
    const res = await list(await sign({ ...forged, kid: rsa.kid }));
    expect(res.status).toBe(401);
    expect(res.body.message).toContain('signature is not valid');
  });

  it('picks up a rotated key, and stops accepting the retired one', async () => {
    const next = await newKey('RS256');
    published = [next, ec];
    // The JWKS is re-read when a token names a kid it does not know (after jose's cool-down).
    await waitFor('the rotated key to be accepted', async () => (await list(await sign(next))).status === 200, 90_000, 1000);
    const retired = await list(await sign(rsa));
    expect(retired.status).toBe(401);
  });
});
