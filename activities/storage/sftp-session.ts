/**
 * One SSH connection with its SFTP channel (`ssh2`, pure JS), opened when
 * first needed, shared by a reader's listings and reads, and closed after a
 * minute without use. The socket is opened here under the destination policy,
 * and the server must show the pinned host key: another key is refused
 * before any credential is sent.
 */
import { createHash } from 'node:crypto';
import { connect as netConnect, isIP } from 'node:net';
import { Client, type SFTPWrapper } from 'ssh2';
import { normalizeHost, type EgressPolicy } from '../../domain/egress-policy.js';
import type { SftpConnection, SftpCredentials } from '../../domain/sftp-config.js';
import { EgressDeniedError, egressLookup, findEgressDenied } from '../net/egress.js';

/** An SFTP failure as lakesync classifies it: a code and one line that holds no credential. */
export class SftpError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** Whatever answered did not speak SSH (public-error.ts hides it in strict mode, as it does a closed port). */
    readonly foreignAnswer = false,
  ) {
    super(message);
    this.name = 'SftpError';
  }
}

/** OpenSSH's fingerprint of a host key blob: SHA256 in unpadded base64. */
export const hostKeyFingerprint = (key: Buffer): string => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

const IDLE_CLOSE_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;
/** A request without an answer this long means a dead channel: the session is dropped, and the next use opens another. */
const OP_TIMEOUT_MS = 60_000;
/** SSH keepalives find a silently dead link (dropped NAT state, a vanished peer) within about a minute. */
const KEEPALIVE_MS = 15_000;

/** What ssh2 threw, as a code and a message of our own (ssh2's can quote a key parser's detail). */
function normalized(err: unknown, hostKeyRefused: boolean, settings: SftpConnection): Error {
  if (findEgressDenied(err)) return findEgressDenied(err)!;
  const e = err as { level?: string; code?: string; message?: string };
  if (hostKeyRefused)
    return new SftpError(`the server at ${settings.host}:${settings.port} showed a host key other than the pinned ${settings.hostKey}`, 'HostKeyMismatch');
  if (e.level === 'client-authentication') return new SftpError(`the server refused the credentials of user ${settings.username}`, 'AuthenticationFailed');
  if (e.level === 'client-timeout') return Object.assign(new SftpError('the SSH handshake timed out', 'ETIMEDOUT'), { cause: err });
  // A socket error without a system code is ssh2's own (the peer closed before speaking SSH).
  if (e.level === 'protocol' || e.level === 'handshake' || (e.level === 'client-socket' && !e.code))
    return Object.assign(new SftpError('the server did not complete an SSH handshake', 'SshHandshakeFailed', true), { cause: err });
  if (typeof e.message === 'string' && e.message.startsWith('Cannot parse privateKey'))
    return new SftpError('the private key cannot be read (wrong format or passphrase)', 'InvalidPrivateKey');
  return err as Error;
}

export class SftpSession {
  private open: Promise<{ client: Client; sftp: SFTPWrapper }> | null = null;
  private inFlight = 0;
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly settings: SftpConnection,
    private readonly creds: SftpCredentials,
    private readonly egress: EgressPolicy,
  ) {}

  /** Runs `op` on the channel, counted as in use until the promise it returns settles. */
  async use<T>(op: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    this.hold();
    let timer: NodeJS.Timeout | undefined;
    try {
      const sftp = await this.channel();
      const open = this.open;
      // ssh2 never answers a request sent on a channel the server closed: bound every operation.
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          if (this.open === open) this.close();
          reject(new SftpError(`the server did not answer within ${OP_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT'));
        }, OP_TIMEOUT_MS).unref();
      });
      return await Promise.race([op(sftp), stalled]);
    } finally {
      clearTimeout(timer);
      this.release();
    }
  }

  /** Marks the channel in use (a read stream, until it ends); `release` ends it. */
  hold(): void {
    this.inFlight++;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  release(): void {
    if (--this.inFlight > 0 || !this.open) return;
    this.idle = setTimeout(() => this.close(), IDLE_CLOSE_MS).unref();
  }

  close(): void {
    const open = this.open;
    this.open = null;
    void open?.then(({ client }) => client.end()).catch(() => undefined);
  }

  channel(): Promise<SFTPWrapper> {
    if (!this.open) {
      const opening = this.connect();
      this.open = opening;
      opening.catch(() => {
        if (this.open === opening) this.open = null;
      });
    }
    return this.open.then((o) => o.sftp);
  }

  private connect(): Promise<{ client: Client; sftp: SFTPWrapper }> {
    const { host, port } = this.settings;
    const literal = normalizeHost(host);
    // Names are checked on every address they resolve to (the lookup); literals are never looked up.
    if (isIP(literal) !== 0 && !this.egress.allows(literal, literal)) return Promise.reject(new EgressDeniedError(literal, [literal]));
    return new Promise((resolve, reject) => {
      let hostKeyRefused = false;
      let settled = false;
      const client = new Client();
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(normalized(err, hostKeyRefused, this.settings));
      };
      // A connection (or its channel) that fails or closes later is dropped, if it is still the current one: the next use opens another.
      const drop = () => {
        if (this.opened !== client) return;
        this.opened = null;
        this.open = null;
        client.end();
      };
      client.on('error', (err) => {
        if (!settled) return fail(err);
        drop();
      });
      client.on('close', () => {
        if (!settled) return fail(new SftpError('the server closed the connection during the handshake', 'ECONNRESET'));
        drop();
      });
      client.on('ready', () =>
        client.sftp((err, sftp) => {
          if (err) return fail(err);
          settled = true;
          this.opened = client;
          sftp.on('close', drop);
          sftp.on('error', drop);
          resolve({ client, sftp });
        }),
      );
      const sock = netConnect({ host, port, lookup: egressLookup(this.egress) });
      // An idle connection never keeps the worker's process alive; and SFTP's small requests, each waiting for
      // its answer, would otherwise stall on Nagle + delayed ACK (40 ms a round trip: 1.4 MiB/s measured).
      sock.unref().setNoDelay(true);
      try {
        client.connect({
          sock,
          username: this.settings.username,
          ...this.creds,
          readyTimeout: READY_TIMEOUT_MS,
          keepaliveInterval: KEEPALIVE_MS,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            if (hostKeyFingerprint(key) === this.settings.hostKey) return true;
            hostKeyRefused = true;
            return false;
          },
        });
      } catch (err) {
        sock.destroy();
        fail(err);
      }
    });
  }

  private opened: Client | null = null;
}
