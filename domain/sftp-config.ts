/**
 * SFTP sources: a directory on an SSH server, settings as stored (no
 * secrets) and the create and PATCH parts, whose credential — a password or a
 * private key (with its passphrase) — is split off to be sealed. The server's
 * host key is pinned by its SHA256 fingerprint: a server that shows another
 * key is refused, never trusted on first use.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { patchOf } from './patch-of.js';
import { text } from './text.js';

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** OpenSSH's form, as `ssh-keygen -l` prints it: `SHA256:` and 43 characters of unpadded base64. */
export const HOST_KEY_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const SftpConnectionSchema = z
  .object({
    host: text()
      .max(253)
      .refine((h) => HOST_NAME.test(h) || isIP(h) !== 0, 'must be a host name or an IP address'),
    port: z.number().int().min(1).max(65535).default(22),
    username: text()
      .min(1)
      .max(256)
      .regex(/^[^\s:@/]+$/, 'must be a user name (no spaces, ":", "@" or "/")'),
    /** The directory synced, absolute on the server; keys are relative to it. */
    path: text().min(1).max(4096).regex(/^\//, 'must be an absolute path on the server').default('/'),
    hostKey: text().regex(HOST_KEY_FINGERPRINT, 'must be the SHA256 fingerprint of the server host key, as `ssh-keygen -l` prints it (SHA256:…)'),
  })
  .strict();
export type SftpConnection = z.infer<typeof SftpConnectionSchema>;

/** What is sealed: exactly one of them. */
export type SftpCredentials = { password: string } | { privateKey: string; passphrase?: string };

const Password = text().min(1).max(1024);
// Never echoed back: a problem message names the rule, not the value.
const PrivateKey = text('multiline')
  .max(16384)
  .refine((k) => /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(k.trim()), 'must be a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY-----)');
const Passphrase = text().min(1).max(1024);

const credentialFields = { password: Password.optional(), privateKey: PrivateKey.optional(), passphrase: Passphrase.optional() };
type CredentialFields = { password?: string; privateKey?: string; passphrase?: string };

function credentialIssues(v: CredentialFields, ctx: z.RefinementCtx, required: boolean): void {
  const given = [v.password, v.privateKey].filter((x) => x !== undefined).length;
  if (given > 1 || (required && given === 0))
    ctx.addIssue({ code: 'custom', path: ['password'], message: `give ${required ? 'exactly' : 'at most'} one of password and privateKey` });
  if (v.passphrase !== undefined && v.privateKey === undefined)
    ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'comes with the privateKey it unlocks' });
}

export const SftpCreateInput = SftpConnectionSchema.extend(credentialFields)
  .strict()
  .superRefine((v, ctx) => credentialIssues(v, ctx, true));

export const SftpPatchInput = patchOf(SftpConnectionSchema)
  .extend(credentialFields)
  .strict()
  .superRefine((v, ctx) => credentialIssues(v, ctx, false));

export type SftpCreate = z.output<typeof SftpCreateInput>;
export type SftpPatch = z.output<typeof SftpPatchInput>;

function credentialsOf({ password, privateKey, passphrase }: CredentialFields): SftpCredentials | null {
  if (password !== undefined) return { password };
  if (privateKey !== undefined) return { privateKey, ...(passphrase !== undefined ? { passphrase } : {}) };
  return null;
}

export function splitSftpCreate({ password, privateKey, passphrase, ...settings }: SftpCreate): { settings: SftpConnection; credentials: SftpCredentials } {
  return { settings, credentials: credentialsOf({ password, privateKey, passphrase })! };
}

/** The settings after a PATCH part, and the credentials it replaces whole (null: the sealed ones stay). */
export function applySftpPatch(
  current: SftpConnection,
  { password, privateKey, passphrase, ...rest }: SftpPatch,
): { settings: SftpConnection; credentials: SftpCredentials | null } {
  return { settings: { ...current, ...rest }, credentials: credentialsOf({ password, privateKey, passphrase }) };
}

/** The host as a URL's authority writes it, for the destination policy's checks. */
export const sftpUrl = (host: string, port: number): string => `sftp://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
