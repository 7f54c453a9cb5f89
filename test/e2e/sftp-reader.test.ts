/**
 * The sftp reader on its own, against OpenSSH's sshd: a tree listed in pages
 * in byte order of the keys (a name sorting before "/" included), each page
 * strictly after the key it is given; links skipped; reads byte for byte;
 * password and key logins; and the refusals that suspend a source — a host
 * key other than the pinned one, refused credentials, a missing directory,
 * a destination the policy refuses.
 */
import { createHash } from 'node:crypto';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftpError, SftpSession } from '../../activities/storage/sftp-session.js';
import { SftpSourceReader, sftpPermanent } from '../../activities/storage/sftp-source.js';
import { EgressPolicy } from '../../domain/egress-policy.js';
import type { SftpConnection, SftpCredentials } from '../../domain/sftp-config.js';
import type { SshdServer } from '../../infra/sshd-server.js';
import { startTestSshd, writeTree } from '../support/sshd.js';

describe('SftpSourceReader', () => {
  let sshd: SshdServer;
  const sessions: SftpSession[] = [];
  // 'a!b' sorts before 'a/…' ('!' < '/'), so a walk that sorted names alone would list it out of order.
  const keys = ['a!b.txt', 'a/c.txt', 'a/d e.txt', 'a/ü/x.txt', 'a0.txt', 'b/c/d/e.txt', 'z.txt'];
  const dev = new EgressPolicy('dev');
  const settings = (over: Partial<SftpConnection> = {}): SftpConnection => ({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    path: join(sshd.home, 'in'),
    hostKey: sshd.hostKey,
    ...over,
  });
  const reader = (over: Partial<SftpConnection> = {}, creds: SftpCredentials = { password: sshd.password }, policy = dev) => {
    const session = new SftpSession(settings(over), creds, policy);
    sessions.push(session);
    return new SftpSourceReader(session, settings(over).path);
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (err: unknown) => err as SftpError,
    );

  beforeAll(async () => {
    sshd = await startTestSshd();
    await writeTree(join(sshd.home, 'in'), new Map(keys.map((k) => [k, Buffer.from(`body of ${k}`)])));
    await writeTree(sshd.home, new Map([['out.txt', Buffer.from('outside')]]));
    await symlink(join(sshd.home, 'out.txt'), join(sshd.home, 'in', 'link.txt'));
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await sshd?.stop();
  });

  it('lists the tree in pages, in byte order, each strictly after the key the last one ended on', async () => {
    const r = reader();
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await r.listPage(after, 2);
      pages++;
      seen.push(...page.objects.map((o) => o.key));
      for (const o of page.objects) {
        expect(o.size).toBe(Buffer.byteLength(`body of ${o.key}`));
        expect(o.etag).toMatch(/^[0-9a-z]+-[0-9a-z]+$/);
      }
      after = page.nextAfterKey;
    } while (after !== null);
    expect(seen).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(pages).toBe(4);
    expect((await r.listPage('a/d e.txt', 100)).objects.map((o) => o.key)).toEqual(['a/ü/x.txt', 'a0.txt', 'b/c/d/e.txt', 'z.txt']);
  });

  it('reads a file byte for byte, with a password or with a private key', async () => {
    for (const creds of [{ password: sshd.password }, { privateKey: sshd.privateKey }]) {
      const r = reader({}, creds);
      const { body, contentType } = await r.openRead('a/d e.txt');
      expect(await text(body)).toBe('body of a/d e.txt');
      expect(contentType).toBe('text/plain');
      expect(await r.head('a/ü/x.txt')).toEqual({ contentType: 'text/plain', metadata: {} });
      expect(await r.head('gone.txt')).toBeNull();
    }
  });

  it('refuses a server whose host key is not the pinned one, before sending credentials, for good', async () => {
    const other = `SHA256:${createHash('sha256').update('another key').digest('base64').replace(/=+$/, '')}`;
    const err = await failure(reader({ hostKey: other }).listPage(null, 10));
    expect(err).toBeInstanceOf(SftpError);
    expect(err!.code).toBe('HostKeyMismatch');
    expect(err!.message).toContain(other);
    expect(sftpPermanent(err)).toBe(true);
  });

  it('names refused credentials, a missing directory and a missing file, and never quotes a secret', async () => {
    const wrong = await failure(reader({}, { password: 'not-the-password' }).listPage(null, 10));
    expect([wrong!.code, sftpPermanent(wrong)]).toEqual(['AuthenticationFailed', true]);
    expect(wrong!.message).not.toContain('not-the-password');
    const missing = await failure(reader({ path: join(sshd.home, 'nope') }).listPage(null, 10));
    expect([missing!.code, sftpPermanent(missing)]).toEqual(['NoSuchDirectory', true]);
    const file = await failure(reader().openRead('gone.txt'));
    expect([file!.code, sftpPermanent(file)]).toEqual(['NoSuchFile', false]);
    const badKey = await failure(
      reader({}, { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n' }).listPage(null, 1),
    );
    expect([badKey!.code, sftpPermanent(badKey)]).toEqual(['InvalidPrivateKey', true]);
  });

  it('opens no connection the destination policy refuses', async () => {
    const err = await failure(reader({}, { password: sshd.password }, new EgressPolicy('strict')).listPage(null, 10));
    expect((err as { code?: string }).code).toBe('EGRESS_DENIED');
    const byName = await failure(reader({ host: 'localhost' }, { password: sshd.password }, new EgressPolicy('strict')).listPage(null, 10));
    expect((byName as { code?: string }).code).toBe('EGRESS_DENIED');
  });
});
