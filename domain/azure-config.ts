/**
 * Azure Blob Storage sources: settings as stored (no secrets) and the create
 * and PATCH parts, whose credential — a shared key, a SAS token or a
 * connection string — is split off to be sealed. A connection string is only
 * a way to give the others: it is read at the edge into the account, the
 * endpoint (stored, so the destination policy checks it) and a key or SAS.
 */
import { z } from 'zod';
import { patchOf } from './patch-of.js';
import { text } from './text.js';

/** Azure's own rules: 3-24 lower-case letters and digits. */
const Account = text().regex(/^[a-z0-9]{3,24}$/, 'must be an Azure storage account name (3-24 lower-case letters and digits)');

export const AzureConnectionSchema = z
  .object({
    account: Account,
    container: text()
      .min(3)
      .max(63)
      .regex(/^[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/, 'must be a valid Azure container name'),
    prefix: text().max(1024).default(''),
    /** The blob service URL; Azure's `https://<account>.blob.core.windows.net` when absent (an emulator's is path style, with the account). */
    endpoint: text().url().optional(),
  })
  .strict();
export type AzureConnection = z.infer<typeof AzureConnectionSchema>;

/** What is sealed: exactly one of them. */
export type AzureCredentials = { accountKey: string } | { sasToken: string };

const AccountKey = text()
  .min(1)
  .max(512)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be a base64 account key');
// Never echoed back: a problem message names the rule, not the value.
const SasToken = text()
  .min(1)
  .max(8192)
  .refine((t) => /(^|[?&])sig=/.test(t), 'must be a SAS token (query parameters with sig=)');
const ConnectionString = text().min(1).max(16384);

const credentialFields = { accountKey: AccountKey.optional(), sasToken: SasToken.optional(), connectionString: ConnectionString.optional() };
type CredentialFields = { accountKey?: string; sasToken?: string; connectionString?: string };
const given = (v: CredentialFields) => [v.accountKey, v.sasToken, v.connectionString].filter((x) => x !== undefined).length;

export const AzureCreateInput = AzureConnectionSchema.extend({ account: Account.optional(), ...credentialFields })
  .strict()
  .superRefine((v, ctx) => {
    if (given(v) !== 1) ctx.addIssue({ code: 'custom', path: ['accountKey'], message: 'give exactly one of accountKey, sasToken and connectionString' });
    const parsed = v.connectionString === undefined ? null : parseConnectionString(v.connectionString);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: ['connectionString'], message: parsed });
    else if (parsed && v.account !== undefined && v.account !== parsed.account)
      ctx.addIssue({ code: 'custom', path: ['account'], message: 'is not the account the connection string names' });
    if (v.account === undefined && v.connectionString === undefined) ctx.addIssue({ code: 'custom', path: ['account'], message: 'is required' });
  });

export const AzurePatchInput = patchOf(AzureConnectionSchema)
  .extend(credentialFields)
  .strict()
  .superRefine((v, ctx) => {
    if (given(v) > 1) ctx.addIssue({ code: 'custom', path: ['accountKey'], message: 'give at most one of accountKey, sasToken and connectionString' });
    const parsed = v.connectionString === undefined ? null : parseConnectionString(v.connectionString);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: ['connectionString'], message: parsed });
  });

export type AzureCreate = z.output<typeof AzureCreateInput>;
export type AzurePatch = z.output<typeof AzurePatchInput>;

export const azureDefaultEndpoint = (account: string): string => `https://${account}.blob.core.windows.net`;

/** What a connection string gives: where, as whom, and its credential. */
interface ParsedConnectionString {
  account: string;
  endpoint: string;
  credentials: AzureCredentials;
}

/**
 * Reads `Key=Value;…` as Azure's tools write it (`AccountName`, `AccountKey`
 * or `SharedAccessSignature`, and `BlobEndpoint` or `DefaultEndpointsProtocol`
 * + `EndpointSuffix`). Returns a problem instead, which never quotes the string.
 */
export function parseConnectionString(value: string): ParsedConnectionString | string {
  const parts = new Map<string, string>();
  for (const pair of value.split(';')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return 'must be an Azure connection string (Key=Value pairs separated by ;)';
    parts.set(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1).trim());
  }
  const key = parts.get('accountkey');
  const sas = parts.get('sharedaccesssignature');
  if ((key === undefined) === (sas === undefined)) return 'must hold exactly one of AccountKey and SharedAccessSignature';
  const blobEndpoint = parts.get('blobendpoint')?.replace(/\/+$/, '');
  let account = parts.get('accountname');
  if (account === undefined && blobEndpoint !== undefined) account = accountOf(blobEndpoint);
  if (account === undefined || !/^[a-z0-9]{3,24}$/.test(account)) return 'must name a valid account (AccountName, or a BlobEndpoint that holds it)';
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  if (protocol !== 'https' && protocol !== 'http') return 'DefaultEndpointsProtocol must be https or http';
  const endpoint = blobEndpoint ?? `${protocol}://${account}.blob.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
  if (!URL.canParse(endpoint)) return 'must hold a valid BlobEndpoint';
  if (key !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) return 'AccountKey must be base64';
  if (sas !== undefined && !/(^|[?&])sig=/.test(sas)) return 'SharedAccessSignature must be a SAS token';
  return { account, endpoint, credentials: key !== undefined ? { accountKey: key } : { sasToken: sas!.replace(/^\?/, '') } };
}

/** The account in a blob endpoint: the first label of `<account>.blob.…`, else an emulator's first path segment. */
function accountOf(endpoint: string): string | undefined {
  if (!URL.canParse(endpoint)) return undefined;
  const url = new URL(endpoint);
  const [first, second] = url.hostname.split('.');
  if (second === 'blob') return first;
  return url.pathname.split('/').find((s) => s !== '');
}

/** A create part's stored settings and sealed credentials. */
export function splitAzureCreate({ accountKey, sasToken, connectionString, ...rest }: AzureCreate): {
  settings: AzureConnection;
  credentials: AzureCredentials;
} {
  if (connectionString !== undefined) {
    const parsed = parseConnectionString(connectionString) as ParsedConnectionString;
    return { settings: { ...rest, account: parsed.account, endpoint: rest.endpoint ?? parsed.endpoint }, credentials: parsed.credentials };
  }
  return { settings: { ...rest, account: rest.account! }, credentials: accountKey !== undefined ? { accountKey } : { sasToken: sasToken!.replace(/^\?/, '') } };
}

/** The settings after a PATCH part, and the credentials it replaces (null: the sealed ones stay). */
export function applyAzurePatch(
  current: AzureConnection,
  { accountKey, sasToken, connectionString, ...rest }: AzurePatch,
): { settings: AzureConnection; credentials: AzureCredentials | null } {
  const settings = { ...current, ...rest };
  if (connectionString !== undefined) {
    const parsed = parseConnectionString(connectionString) as ParsedConnectionString;
    return { settings: { ...settings, account: parsed.account, endpoint: rest.endpoint ?? parsed.endpoint }, credentials: parsed.credentials };
  }
  if (accountKey !== undefined) return { settings, credentials: { accountKey } };
  if (sasToken !== undefined) return { settings, credentials: { sasToken: sasToken.replace(/^\?/, '') } };
  return { settings, credentials: null };
}
