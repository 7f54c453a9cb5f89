/**
 * The egress policy: which destinations tenant-given URLs may reach, in both
 * modes, for every spelling of an address; and its enforcement on real
 * sockets (node http agents and undici), for names and IP literals alike.
 */
import { createServer, request, type Agent, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch } from 'undici';
import { egressMode, loadEnv } from '../../config/env.js';
import { EgressPolicy, EGRESS_DENIED_MESSAGE, embeddedIPv4, parseEgressList, type EgressMode } from '../../domain/egress-policy.js';
import { egressAgents, egressDispatcher, egressLookup, findEgressDenied } from '../../activities/net/egress.js';
import { publicDestinationError, UNREACHABLE_MESSAGE } from '../../activities/net/public-error.js';

const policy = (mode: EgressMode, allow = '', deny = '') => new EgressPolicy(mode, parseEgressList(allow).entries, parseEgressList(deny).entries);

// Every spelling of loopback a URL can carry (the WHATWG parser turns short, hex, octal and decimal IPv4 into dotted form).
const LOOPBACK_URLS = [
  'http://127.0.0.1:9000',
  'http://127.1:9000',
  'http://0x7f000001/',
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://127.0.0.1./',
  'http://[::1]:9000',
  'http://[::ffff:127.0.0.1]/',
  'http://[0:0:0:0:0:ffff:7f00:1]/',
  'http://[::127.0.0.1]/',
  'http://[64:ff9b::127.0.0.1]/',
  'http://[2002:7f00:1::1]/',
];
const LOOPBACK_NAMES = ['http://localhost:9000', 'http://LOCALHOST./', 'http://minio.localhost/'];
const UNSPECIFIED = ['http://0.0.0.0/', 'http://0/', 'http://[::]/'];
const PRIVATE = ['http://10.1.2.3/', 'http://172.16.0.1/', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://[fd12:3456::1]/', 'http://[::ffff:10.0.0.1]/'];
const OTHER_STRICT = ['http://224.0.0.1/', 'http://255.255.255.255/', 'http://[ff02::1]/', 'http://198.18.0.1/'];
const METADATA = [
  'http://169.254.169.254/latest/meta-data/',
  'http://169.254.170.2/',
  'http://[fd00:ec2::254]/',
  'http://[fe80::1]/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://2852039166/',
  'http://0xa9fea9fe/',
  'http://169.254.43518/',
  'http://100.100.100.200/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://metadata.google.internal./',
  'http://metadata/',
];
const PUBLIC = ['https://s3.amazonaws.com', 'https://8.8.8.8/', 'http://[2606:4700::1111]/', 'http://[::ffff:8.8.8.8]/', 'https://storage.example.com:9000/'];

describe('egress policy at the API edge (no DNS)', () => {
  it('strict mode refuses loopback, unspecified, private, multicast and metadata in every spelling', () => {
    const p = policy('strict');
    for (const url of [...LOOPBACK_URLS, ...LOOPBACK_NAMES, ...UNSPECIFIED, ...PRIVATE, ...OTHER_STRICT, ...METADATA])
      expect(p.urlProblem(url), url).not.toBeNull();
    for (const url of PUBLIC) expect(p.urlProblem(url), url).toBeNull();
  });

  it('dev mode allows loopback and private space but still refuses link-local and metadata', () => {
    const p = policy('dev');
    for (const url of [...LOOPBACK_URLS, ...LOOPBACK_NAMES, ...PRIVATE, ...PUBLIC]) expect(p.urlProblem(url), url).toBeNull();
    for (const url of METADATA) expect(p.urlProblem(url), url).not.toBeNull();
  });

  it('names say what is wrong without naming what is there', () => {
    expect(policy('strict').urlProblem('http://127.1:9000')).toBe('is an address the egress policy does not allow');
    expect(policy('dev').urlProblem('http://metadata.google.internal/')).toBe('is a host the egress policy does not allow');
  });
});

describe('egress policy on resolved addresses', () => {
  it('finds the IPv4 address that mapped, compatible, NAT64 and 6to4 addresses carry', () => {
    expect(embeddedIPv4('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(embeddedIPv4('::ffff:169.254.169.254')).toBe('169.254.169.254');
    expect(embeddedIPv4('::a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedIPv4('64:ff9b::a00:1')).toBe('10.0.0.1');
    expect(embeddedIPv4('2002:c0a8:101::1')).toBe('192.168.1.1');
    expect(embeddedIPv4('::1')).toBeNull();
    expect(embeddedIPv4('2606:4700::1111')).toBeNull();
  });

  it('checks the address a name resolved to, whatever the name', () => {
    const strict = policy('strict');
    expect(strict.allows('storage.example.com', '93.184.216.34')).toBe(true);
    expect(strict.allows('storage.example.com', '127.0.0.1')).toBe(false);
    expect(strict.allows('storage.example.com', '::ffff:127.0.0.1')).toBe(false);
    expect(strict.allows('storage.example.com', '64:ff9b::a9fe:a9fe')).toBe(false);
    expect(strict.allows('storage.example.com', '10.0.0.8')).toBe(false);
    const dev = policy('dev');
    expect(dev.allows('storage.example.com', '127.0.0.1')).toBe(true);
    expect(dev.allows('storage.example.com', '169.254.169.254')).toBe(false);
    expect(dev.allows('storage.example.com', 'fe80::1')).toBe(false);
    expect(dev.allows('storage.example.com', '::ffff:169.254.169.254')).toBe(false);
  });

  it('ALLOW overrides the defaults, DENY wins over them and over an equally specific ALLOW', () => {
    const p = policy(
      'strict',
      '127.0.0.1/32,10.0.0.0/8,minio.internal,*.corp.example,169.254.169.254',
      '10.9.0.0/16,10.0.0.0/8,bad.corp.example,93.184.216.0/24',
    );
    expect(p.allows(null, '127.0.0.1')).toBe(true);
    expect(p.allows(null, '::ffff:127.0.0.1')).toBe(true); // the mapped form reaches the same allowed address
    expect(p.allows(null, '127.0.0.2')).toBe(false); // only what was allowed
    expect(p.allows(null, '10.1.2.3')).toBe(false); // 10/8 both allowed and denied: DENY wins the tie
    expect(p.allows('minio.internal', '172.16.5.5')).toBe(true); // allowed by name, whatever private address it has
    expect(p.allows('s3.corp.example', '192.168.0.9')).toBe(true);
    expect(p.allows('bad.corp.example', '192.168.0.9')).toBe(false); // the exact name beats the wildcard
    expect(p.allows('minio.internal', '93.184.216.34')).toBe(false); // an address DENY beats a name ALLOW
    expect(p.allows(null, '169.254.169.254')).toBe(true); // explicitly allowed, even metadata
    expect(p.allows(null, '169.254.169.253')).toBe(false);
    // A more specific ALLOW inside a DENY wins.
    const q = policy('dev', '10.1.2.3', '10.0.0.0/8,*.example.com');
    expect(q.allows(null, '10.1.2.3')).toBe(true);
    expect(q.allows(null, '10.1.2.4')).toBe(false);
    expect(q.allows('a.b.example.com', '93.184.216.34')).toBe(false);
    expect(q.allows('example.com', '93.184.216.34')).toBe(true); // *.example.com is subdomains only
    expect(q.urlProblem('https://x.example.com/')).not.toBeNull();
    // ALLOW by name lets a default-denied name through at the edge too.
    expect(policy('strict', 'localhost').urlProblem('http://localhost:9000')).toBeNull();
  });
});

describe('egress settings', () => {
  it('default to strict in production and dev elsewhere, unless LAKESYNC_EGRESS_DEFAULT says otherwise', () => {
    const prod = { NODE_ENV: 'production', LAKESYNC_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'), LAKESYNC_AUTH_SECRET: 'x'.repeat(32) };
    expect(egressMode(loadEnv(prod))).toBe('strict');
    expect(egressMode(loadEnv({}))).toBe('dev');
    expect(egressMode(loadEnv({ NODE_ENV: 'test' }))).toBe('dev');
    expect(egressMode(loadEnv({ LAKESYNC_EGRESS_DEFAULT: 'strict' }))).toBe('strict');
  });

  it('parse CIDRs, addresses, names and wildcards, and stop the process naming the variable and entry', () => {
    const env = loadEnv({
      LAKESYNC_EGRESS_ALLOW: ' 10.0.0.0/8, fd00::/8 ,192.0.2.7,[::1],Minio.Internal.,*.example.com,',
      LAKESYNC_EGRESS_DENY: '10.9.0.0/16',
    });
    expect(env.LAKESYNC_EGRESS_ALLOW?.map((e) => (e.kind === 'cidr' ? `${e.network}/${e.prefix}` : `${e.wildcard ? '*.' : ''}${e.name}`))).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
      '192.0.2.7/32',
      '::1/128',
      'minio.internal',
      '*.example.com',
    ]);
    for (const bad of ['127.1', '2130706433', '0x7f000001', '10.0.0.0/33', '::1/129', 'http://x.example.com', 'a b', 'host:9000', '*.', 'minio/8']) {
      expect(() => loadEnv({ LAKESYNC_EGRESS_DENY: `10.0.0.0/8,${bad}` }), bad).toThrow(/LAKESYNC_EGRESS_DENY: .*is not|LAKESYNC_EGRESS_DENY: .*prefix length/);
    }
    expect(() => loadEnv({ LAKESYNC_EGRESS_DEFAULT: 'open' })).toThrow(/LAKESYNC_EGRESS_DEFAULT/);
  });
});

describe('egress enforcement on real sockets', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const viaAgent = (agent: Agent, host: string) =>
    new Promise<string>((resolve) => {
      const req = request({ host, port, path: '/', agent }, (res) => {
        res.resume();
        resolve(`HTTP ${res.statusCode}`);
      });
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
  const viaFetch = (p: EgressPolicy, host: string) =>
    fetch(`http://${host}:${port}/`, { dispatcher: egressDispatcher(p), redirect: 'manual' }).then(
      (res) => `HTTP ${res.status}`,
      (err: unknown) => findEgressDenied(err)?.message ?? String(err),
    );

  // IP literals never go through `lookup`; names do (127.1 and localhost resolve through getaddrinfo).
  const HOSTS = ['127.0.0.1', '127.1', 'localhost'];

  it('refuses loopback in strict mode, names and literals alike, with the one fixed message', async () => {
    const p = policy('strict');
    const { httpAgent } = egressAgents(p, {});
    for (const host of HOSTS) {
      expect(await viaAgent(httpAgent, host), host).toBe(EGRESS_DENIED_MESSAGE);
      expect(await viaFetch(p, host), host).toBe(EGRESS_DENIED_MESSAGE);
    }
  });

  it('connects where the policy allows', async () => {
    for (const p of [policy('strict', '127.0.0.1/32'), policy('dev')]) {
      const { httpAgent } = egressAgents(p, {});
      for (const host of HOSTS) {
        expect(await viaAgent(httpAgent, host), `${p.mode} ${host}`).toBe('HTTP 200');
        expect(await viaFetch(p, host), `${p.mode} ${host}`).toBe('HTTP 200');
      }
    }
  });

  it('refuses every address of a name when none is allowed, and keeps only the allowed ones otherwise', async () => {
    const lookup = (p: EgressPolicy, all: boolean) =>
      new Promise<unknown>((resolve) => egressLookup(p)('localhost', { all }, (err, address) => resolve(err ? (err as Error).message : address)));
    expect(await lookup(policy('strict'), true)).toBe(EGRESS_DENIED_MESSAGE);
    expect(await lookup(policy('strict'), false)).toBe(EGRESS_DENIED_MESSAGE);
    expect(await lookup(policy('strict', '127.0.0.1'), false)).toBe('127.0.0.1');
    expect(await lookup(policy('strict', '127.0.0.1'), true)).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('tells tenants one thing for every network failure in strict mode', async () => {
    // A port nothing listens on: ECONNREFUSED in detail, one fixed text for the tenant.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await fetch(`http://127.0.0.1:${closedPort}/`, { dispatcher: egressDispatcher(policy('dev')) }).catch((e: unknown) => e);
    expect(JSON.stringify(String((err as { cause?: unknown }).cause))).toContain('ECONNREFUSED');
    expect(publicDestinationError(err, true)).toBe(UNREACHABLE_MESSAGE);
    expect(publicDestinationError(err, false)).toBeNull();
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    expect(publicDestinationError(timeout, true)).toBe(UNREACHABLE_MESSAGE);
    // An S3 error code is kept; anything else an HTTP server answered is not.
    const accessDenied = Object.assign(new Error('Access Denied.'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(publicDestinationError(accessDenied, true)).toBeNull();
    const foreign = Object.assign(new Error("char '<' is not expected"), { name: 'SyntaxError', $metadata: { httpStatusCode: 200 } });
    expect(publicDestinationError(foreign, true)).toBe(UNREACHABLE_MESSAGE);
    // A refusal reads the same in both modes.
    const refused = await fetch(`http://127.0.0.1:${port}/`, { dispatcher: egressDispatcher(policy('strict')) }).catch((e: unknown) => e);
    expect(publicDestinationError(refused, false)).toBe(EGRESS_DENIED_MESSAGE);
  });
});
