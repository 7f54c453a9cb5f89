import { describe, expect, it } from 'vitest';
import { applySftpPatch, SftpCreateInput, SftpPatchInput, sftpUrl, splitSftpCreate } from '../../domain/sftp-config.js';
import { movedCredentialsProblem, patchConnection, type ConnectionChange, type SourceConnection } from '../../domain/source-kinds.js';

const hostKey = `SHA256:${'Ab9+/'.repeat(8)}Ab9`;
const base = { host: 'files.example.com', username: 'reader', path: '/exports', hostKey };
const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
const fields = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) => r.error?.issues.map((i) => i.path.join('.')) ?? [];

describe('sftp settings', () => {
  it('splits the password or the key (with its passphrase) off the settings, defaulting the port', () => {
    expect(splitSftpCreate(SftpCreateInput.parse({ ...base, password: 'pw' }))).toEqual({ settings: { ...base, port: 22 }, credentials: { password: 'pw' } });
    expect(splitSftpCreate(SftpCreateInput.parse({ ...base, port: 2222, privateKey: key, passphrase: 'pp' }))).toEqual({
      settings: { ...base, port: 2222 },
      credentials: { privateKey: key, passphrase: 'pp' },
    });
  });

  it('wants exactly one credential at create, a passphrase only with a key, and a host key fingerprint', () => {
    expect(fields(SftpCreateInput.safeParse(base))).toEqual(['password']);
    expect(fields(SftpCreateInput.safeParse({ ...base, password: 'pw', privateKey: key }))).toEqual(['password']);
    expect(fields(SftpCreateInput.safeParse({ ...base, password: 'pw', passphrase: 'pp' }))).toEqual(['passphrase']);
    expect(fields(SftpCreateInput.safeParse({ ...base, password: 'pw', hostKey: 'SHA256:short' }))).toEqual(['hostKey']);
    expect(fields(SftpCreateInput.safeParse({ ...base, password: 'pw', host: '-bad-' }))).toEqual(['host']);
    expect(fields(SftpCreateInput.safeParse({ ...base, password: 'pw\u0007' }))).toEqual(['password']);
    expect(SftpCreateInput.safeParse({ ...base, host: '2001:db8::1', password: 'pw' }).success).toBe(true);
  });

  it('a PATCH keeps the sealed credentials unless it gives new ones, which replace them whole', () => {
    const current = { ...base, port: 22 };
    expect(applySftpPatch(current, SftpPatchInput.parse({ path: '/other' }))).toEqual({ settings: { ...current, path: '/other' }, credentials: null });
    expect(applySftpPatch(current, SftpPatchInput.parse({ privateKey: key }))).toEqual({ settings: current, credentials: { privateKey: key } });
    expect(fields(SftpPatchInput.safeParse({ password: 'a', privateKey: key }))).toEqual(['password']);
  });

  it('writes the host as a URL authority for the destination policy', () => {
    expect(sftpUrl('2001:db8::1', 22)).toBe('sftp://[2001:db8::1]:22');
    expect(new URL(sftpUrl('10.0.0.1', 2222)).hostname).toBe('10.0.0.1');
  });
});

describe('sftp credentials', () => {
  it('a PATCH that moves the host, port or pinned key must give a credential again; other changes keep it', () => {
    const stored: SourceConnection = { sftp: { ...base, port: 22 } };
    const moved = (part: object) => movedCredentialsProblem(stored, patchConnection(stored, { sftp: SftpPatchInput.parse(part) }) as ConnectionChange);
    expect(moved({ host: 'evil.example.com' })).toMatchObject({ field: 'sftp.password' });
    expect(moved({ port: 2222 })).toMatchObject({ field: 'sftp.password' });
    expect(moved({ hostKey: `SHA256:${'Zz9+/'.repeat(8)}Zz9` })).toMatchObject({ field: 'sftp.password' });
    expect(moved({ host: 'evil.example.com', password: 'new' })).toBeNull();
    expect(moved({ path: '/other' })).toBeNull();
  });
});
