/**
 * The pure parts of the hostile-URL defences: which query parameters a log
 * line hides, which proxy lists the environment accepts, how a search query
 * is bounded, and what a signed URL's MAC covers.
 */
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../config/env.js';
import { redactUrl, scrubErrorText } from '../../domain/log-redaction.js';
import { searchQueryProblem } from '../../domain/search-query.js';
import { UrlSigner } from '../../domain/signed-urls.js';

describe('redactUrl', () => {
  it('hides the values of secret-looking query parameters and keeps the path and the rest', () => {
    expect(redactUrl('/b/k.txt?X-Lakesync-Expires=17&X-Lakesync-Signature=abc')).toBe('/b/k.txt?X-Lakesync-Expires=17&X-Lakesync-Signature=[redacted]');
    const all = [
      'X-Amz-Signature',
      'X-Amz-Credential',
      'X-Amz-Security-Token',
      'Signature',
      'token',
      'api_key',
      'apikey',
      'access_token',
      'client_secret',
      'password',
      'sig',
      'X-Goog-Signature',
    ];
    for (const name of all) expect(redactUrl(`/p?${name}=s3cr3t&prefix=a`), name).toBe(`/p?${name}=[redacted]&prefix=a`);
    // Encoded names are recognised; a name without a value is left alone.
    expect(redactUrl('/p?%61ccess_token=s3cr3t&flag')).toBe('/p?%61ccess_token=[redacted]&flag');
    expect(redactUrl('/no/query')).toBe('/no/query');
  });
});

describe('scrubErrorText', () => {
  it('drops a params line drizzle wrote into a message, wherever it was flattened to', () => {
    const flattened = 'Error: Failed query: update sources set sealed_credentials = $1 where id = $2\nparams: v1.secret,src_1\n    at x (y.ts:1:1)';
    expect(scrubErrorText(flattened, undefined)).toBe(
      'Error: Failed query: update sources set sealed_credentials = $1 where id = $2\nparams: [redacted]\n    at x (y.ts:1:1)',
    );
  });
});

describe('LAKESYNC_TRUST_PROXY', () => {
  it('takes addresses, CIDRs and express presets, and refuses anything else', () => {
    expect(loadEnv({ LAKESYNC_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8,loopback' }).LAKESYNC_TRUST_PROXY).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    expect(loadEnv({}).LAKESYNC_TRUST_PROXY).toBeUndefined();
    for (const bad of ['true', '*', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129', '1'])
      expect(() => loadEnv({ LAKESYNC_TRUST_PROXY: bad }), bad).toThrow(/LAKESYNC_TRUST_PROXY/);
  });
  it('bounds the search settings', () => {
    expect(loadEnv({})).toMatchObject({ LAKESYNC_SEARCH_TIMEOUT_MS: 5000, LAKESYNC_SEARCH_CONCURRENCY: 4 });
    expect(() => loadEnv({ LAKESYNC_SEARCH_TIMEOUT_MS: '0' })).toThrow(/LAKESYNC_SEARCH_TIMEOUT_MS/);
    expect(() => loadEnv({ LAKESYNC_SEARCH_CONCURRENCY: 'many' })).toThrow(/LAKESYNC_SEARCH_CONCURRENCY/);
  });
});

describe('searchQueryProblem', () => {
  it('counts terms, exclusions, phrases and or operators', () => {
    expect(searchQueryProblem('quarterly "revenue report" -draft or summary')).toBeNull();
    expect(searchQueryProblem('a '.repeat(33))).toMatch(/32 terms/);
    expect(searchQueryProblem('-a -b -c -d -e -f -g -h -i')).toMatch(/excluded/);
    // A hyphen inside a word is not an exclusion, but each part is a term.
    expect(searchQueryProblem('well-known e-mail')).toBeNull();
    expect(searchQueryProblem('x'.repeat(513))).toMatch(/512 characters/);
  });
});

describe('UrlSigner', () => {
  it('binds a URL to the bucket id: the same name with another id does not verify', () => {
    const signer = new UrlSigner(Buffer.alloc(32, 7));
    const now = Date.now();
    const { url } = signer.sign('http://h', { id: 'bkt_1', name: 'docs' }, 'a/b c.txt', 60, now);
    const u = new URL(url);
    expect(u.pathname).toBe('/docs/a/b%20c.txt');
    const args = [u.searchParams.get('X-Lakesync-Expires'), u.searchParams.get('X-Lakesync-Signature')] as const;
    expect(signer.verify('bkt_1', 'a/b c.txt', ...args, now)).toBeNull();
    expect(signer.verify('bkt_2', 'a/b c.txt', ...args, now)).toBe('signature does not match');
    expect(signer.verify('docs', 'a/b c.txt', ...args, now)).toBe('signature does not match');
  });
});
