/**
 * SOURCE_KINDS, the pure half of the source kind registry: per kind, its
 * settings as stored (`sources.connection`, no secrets), the part of a create
 * or PATCH body named after it and how credentials split off it to be sealed,
 * its part of the API's source view, and the checks the edge makes beyond a
 * schema. The API and the activities both import it; the worker half (opening
 * a reader, classifying errors) is `activities/storage/source-readers.ts`.
 */
import { z } from 'zod';
import {
  AzureConnectionSchema,
  azureDefaultEndpoint,
  AzureCreateInput,
  AzurePatchInput,
  applyAzurePatch,
  splitAzureCreate,
  type AzureConnection,
  type AzureCredentials,
} from './azure-config.js';
import { assertNever, type SourceKind } from './kinds.js';
import { GcsConnectionSchema, GcsCreateInput, GcsPatchInput, gcsCredentials, GOOGLE_TOKEN_URI, type GcsConnection, type GcsCredentials } from './gcs-source.js';
import {
  PostgresTableConnectionSchema,
  PostgresTableCreateInput,
  PostgresTablePatchInput,
  applyPostgresTablePatch,
  postgresHostUrl,
  splitPostgresTableCreate,
  type PostgresTableConnection,
  type PostgresTableCredentials,
} from './postgres-table-config.js';
import { patchOf } from './patch-of.js';
import {
  SftpConnectionSchema,
  SftpCreateInput,
  SftpPatchInput,
  applySftpPatch,
  sftpUrl,
  splitSftpCreate,
  type SftpConnection,
  type SftpCredentials,
} from './sftp-config.js';
import { presetProblem, resolveS3Addressing, S3_PRESETS } from './s3-presets.js';
import { FilesystemConnectionSchema, S3ConnectionSchema, type FilesystemConnection, type S3Connection, type S3Credentials } from './source-config.js';
import { text } from './text.js';
import type { NotificationMode } from './notifications.js';

/** Temporary (STS) credentials carry a session token; it is sealed with the keys. */
const SessionToken = text().min(1).max(8192);

/** An s3 source's create part: its settings and the credentials sealed apart from them. */
export const S3CreateInput = S3ConnectionSchema.extend({
  // Without their defaults here: a provider's preset fills what is not given.
  region: S3ConnectionSchema.shape.region.unwrap().optional(),
  forcePathStyle: z.boolean().optional(),
  accessKeyId: text().min(1).max(256),
  secretAccessKey: text().min(1).max(512),
  sessionToken: SessionToken.optional(),
}).strict();

export const S3PatchInput = patchOf(S3ConnectionSchema)
  .extend({ accessKeyId: text().min(1).max(256).optional(), secretAccessKey: text().min(1).max(512).optional(), sessionToken: SessionToken.optional() })
  .strict()
  .refine((v) => (v.accessKeyId === undefined) === (v.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey must be changed together',
    path: ['secretAccessKey'],
  })
  .refine((v) => v.sessionToken === undefined || v.accessKeyId !== undefined, {
    message: 'comes with the accessKeyId and secretAccessKey it belongs to',
    path: ['sessionToken'],
  });

export const FilesystemPatchInput = patchOf(FilesystemConnectionSchema).strict();

/** The built-in push source has no settings. */
const UploadConnectionSchema = z.object({}).strict() as z.ZodType<Record<string, never>>;

/** Per kind: settings as stored, credentials as sealed, and the kind's part of a create and a PATCH body (never: the API does not accept one). */
interface SourceKindTypeTable {
  s3: { settings: S3Connection; credentials: S3Credentials; create: z.output<typeof S3CreateInput>; patch: z.output<typeof S3PatchInput> };
  filesystem: { settings: FilesystemConnection; credentials: never; create: FilesystemConnection; patch: z.output<typeof FilesystemPatchInput> };
  upload: { settings: Record<string, never>; credentials: never; create: never; patch: never };
  azure: { settings: AzureConnection; credentials: AzureCredentials; create: z.output<typeof AzureCreateInput>; patch: z.output<typeof AzurePatchInput> };
  gcs: { settings: GcsConnection; credentials: GcsCredentials; create: z.output<typeof GcsCreateInput>; patch: z.output<typeof GcsPatchInput> };
  postgres: {
    settings: PostgresTableConnection;
    credentials: PostgresTableCredentials;
    create: z.output<typeof PostgresTableCreateInput>;
    patch: z.output<typeof PostgresTablePatchInput>;
  };
  sftp: { settings: SftpConnection; credentials: SftpCredentials; create: z.output<typeof SftpCreateInput>; patch: z.output<typeof SftpPatchInput> };
}
// A kind missing from the table is one error here, not one at every use of the table.
const _everyKindTyped: { [K in SourceKind]: unknown } = {} as SourceKindTypeTable;
type Untyped = { settings: never; credentials: never; create: never; patch: never };
export type SourceKindTypes = { [K in SourceKind]: K extends keyof SourceKindTypeTable ? SourceKindTypeTable[K] : Untyped };

export type SourceSettings<K extends SourceKind> = SourceKindTypes[K]['settings'];
export type SourceCredentials<K extends SourceKind> = SourceKindTypes[K]['credentials'];

/** Stored connection JSON: the settings under the kind's name, e.g. `{ "s3": { … } }`. */
export type SourceConnection = { [K in SourceKind]: { [P in K]: SourceSettings<P> } }[SourceKind];

/** A connection with its kind as a discriminant, as the registry's functions take it. */
export type KindedConnection<K extends SourceKind = SourceKind> = { [P in K]: { kind: P; settings: SourceSettings<P> } }[K];

export interface FieldProblem {
  field: string;
  problem: string;
}

/** Checks the API makes of settings beyond their schema, handed in by the API (they need its policy and roots). */
export interface EdgeChecks {
  urlProblem(url: string): string | null;
  sourceDirProblem(path: string): Promise<string | null>;
}

export interface SourceKindSpec<K extends SourceKind> {
  settings: z.ZodType<SourceSettings<K>>;
  /** A create body's part named after the kind; null when the API never creates the kind. */
  create: null | {
    input: z.ZodType<SourceKindTypes[K]['create']>;
    /** Splits off the credentials, which are sealed (domain/secrets.ts) into `sources.sealed_credentials`. */
    split(input: SourceKindTypes[K]['create']): { settings: SourceSettings<K>; credentials: SourceCredentials<K> | null };
  };
  /** A PATCH body's part named after the kind; null when the kind has nothing to change. */
  patch: null | {
    input: z.ZodType<SourceKindTypes[K]['patch']>;
    /** The settings after the change, and new credentials to seal when the part replaces them. */
    apply(current: SourceSettings<K>, part: SourceKindTypes[K]['patch']): { settings: SourceSettings<K>; credentials: SourceCredentials<K> | null };
  };
  /** The kind's fields in the API's view of a source (never credentials). */
  json(settings: SourceSettings<K>, credentialsSet: boolean): object;
  /**
   * Where the sealed credentials may be sent: a PATCH that moves it must give
   * them again (`field` names the one to give), or a tenant could point a
   * source's stored secret at a server of its own. Null when the kind has no
   * credentials, or when what reaches the server is bound to it anyway.
   */
  credentialsBoundTo: null | { field: string; destination(settings: SourceSettings<K>): string };
  /** Where the source reads from, as Mixpeek's `source_path` writes it (s3, gcs `bucket/prefix`). */
  sourcePath(settings: SourceSettings<K>): string;
  /** The change-notification modes besides `off` it takes (domain/notifications.ts): a targeted run needs the reader's `stat`. */
  notifications: readonly Exclude<NotificationMode, 'off'>[];
  /** Whether listed objects carry a modification time (`fileFilters.modifiedAfter` / `modifiedBefore` need one). */
  listsModifiedTimes: boolean;
  /** `given`: the part the caller sent; `merged`: the settings that will be stored. */
  check(given: SourceKindTypes[K]['create'] | SourceKindTypes[K]['patch'], merged: SourceSettings<K>, edge: EdgeChecks): Promise<FieldProblem | null>;
}

export const SOURCE_KINDS = {
  s3: {
    settings: S3ConnectionSchema,
    create: {
      input: S3CreateInput,
      split: ({ accessKeyId, secretAccessKey, sessionToken, ...given }) => ({
        settings: { ...given, ...resolveS3Addressing(given) },
        credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      }),
    },
    patch: {
      input: S3PatchInput,
      apply: (current, { accessKeyId, secretAccessKey, sessionToken, ...rest }) => ({
        settings: { ...current, ...rest, ...represet(current, rest) },
        // New keys replace the old ones whole: a session token not given again is dropped.
        credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : null,
      }),
    },
    json: (settings, credentialsSet) => ({ s3: { ...settings, credentialsSet } }),
    // SigV4 signs the Host header: a request signed for another endpoint is good nowhere else, and the secret never travels.
    credentialsBoundTo: null,
    sourcePath: (settings) => joinPath(settings.bucket, settings.prefix),
    listsModifiedTimes: true,
    notifications: ['webhook', 'sqs'],
    check: async (given, merged, edge) => {
      const missing = given.provider !== undefined || given.accountId !== undefined ? presetProblem({ ...merged, endpoint: given.endpoint }) : null;
      if (missing) return { field: `s3.${missing.field}`, problem: missing.problem };
      // The region is defaulted by then, so only the endpoint tells whether the preset had what it needs.
      const needs = merged.provider === undefined ? undefined : S3_PRESETS[merged.provider].needs;
      if (needs !== undefined && merged.endpoint === undefined) return { field: `s3.${needs}`, problem: `is required with provider "${merged.provider}"` };
      const problem = merged.endpoint === undefined || (given.endpoint === undefined && given.provider === undefined) ? null : edge.urlProblem(merged.endpoint);
      return problem ? { field: 's3.endpoint', problem } : null;
    },
  },
  filesystem: {
    settings: FilesystemConnectionSchema,
    create: { input: FilesystemConnectionSchema, split: (settings) => ({ settings, credentials: null }) },
    patch: { input: FilesystemPatchInput, apply: (current, part) => ({ settings: { ...current, ...part }, credentials: null }) },
    json: (settings) => ({ filesystem: settings }),
    credentialsBoundTo: null,
    sourcePath: (settings) => settings.path,
    listsModifiedTimes: true,
    notifications: ['watch'],
    check: async (_given, merged, edge) => {
      const problem = await edge.sourceDirProblem(merged.path);
      return problem ? { field: 'filesystem.path', problem } : null;
    },
  },
  upload: {
    settings: UploadConnectionSchema,
    create: null,
    patch: null,
    json: () => ({}),
    credentialsBoundTo: null,
    // Pushed by clients: no outside place it reads from.
    sourcePath: () => '',
    listsModifiedTimes: true,
    notifications: [],
    check: async () => null,
  },
  azure: {
    settings: AzureConnectionSchema,
    create: { input: AzureCreateInput, split: splitAzureCreate },
    patch: { input: AzurePatchInput, apply: applyAzurePatch },
    json: (settings, credentialsSet) => ({ azure: { ...settings, credentialsSet } }),
    // A SAS travels in the URL, and Shared Key signs the account's path but not the host.
    credentialsBoundTo: { field: 'azure.accountKey', destination: (s) => s.endpoint ?? azureDefaultEndpoint(s.account) },
    sourcePath: (settings) => joinPath(settings.container, settings.prefix),
    listsModifiedTimes: true,
    notifications: [],
    // The endpoint is checked whenever this part sets it, directly or through a connection string.
    check: async (given, merged, edge) => {
      if (given.endpoint === undefined && given.connectionString === undefined) return null;
      const problem = merged.endpoint === undefined ? null : edge.urlProblem(merged.endpoint);
      return problem ? { field: given.endpoint === undefined ? 'azure.connectionString' : 'azure.endpoint', problem } : null;
    },
  },
  gcs: {
    settings: GcsConnectionSchema,
    create: {
      input: GcsCreateInput,
      split: ({ serviceAccount, ...settings }) => ({ settings, credentials: gcsCredentials(serviceAccount) }),
    },
    patch: {
      input: GcsPatchInput,
      apply: (current, { serviceAccount, ...rest }) => ({ settings: { ...current, ...rest }, credentials: gcsCredentials(serviceAccount) }),
    },
    json: (settings, credentialsSet) => ({ gcs: { ...settings, credentialsSet } }),
    // The self-signed JWT names a scope, not an audience: any endpoint it reaches could use it on Google.
    credentialsBoundTo: { field: 'gcs.serviceAccount', destination: (s) => s.endpoint ?? '' },
    sourcePath: (settings) => joinPath(settings.bucket, settings.prefix),
    listsModifiedTimes: true,
    notifications: [],
    check: async (given, _merged, edge) => {
      const endpointProblem = given.endpoint === undefined ? null : edge.urlProblem(given.endpoint);
      if (endpointProblem) return { field: 'gcs.endpoint', problem: endpointProblem };
      const tokenUri = given.serviceAccount?.token_uri;
      if (tokenUri === undefined) return null;
      // Never echoed: the problem names the endpoint the client uses, not what was sent.
      const tokenProblem = tokenUri === GOOGLE_TOKEN_URI ? edge.urlProblem(tokenUri) : `must be ${GOOGLE_TOKEN_URI}, the token endpoint the Google client uses`;
      return tokenProblem ? { field: 'gcs.serviceAccount.token_uri', problem: tokenProblem } : null;
    },
  },
  postgres: {
    settings: PostgresTableConnectionSchema,
    create: { input: PostgresTableCreateInput, split: splitPostgresTableCreate },
    patch: { input: PostgresTablePatchInput, apply: applyPostgresTablePatch },
    json: (settings, credentialsSet) => ({ postgres: { ...settings, credentialsSet } }),
    // A server may ask for the password in clear (password / md5 auth): it goes only to the host it was given for.
    credentialsBoundTo: { field: 'postgres.password', destination: (s) => `${s.host}:${s.port} ${s.ssl}` },
    sourcePath: (s) => `${s.database}.${s.schema}.${s.table}`,
    // Rows carry no modification time: a date filter would drop every one of them.
    listsModifiedTimes: false,
    notifications: [],
    check: async (given, merged, edge) => {
      if (given.host === undefined && given.port === undefined) return null;
      const problem = edge.urlProblem(postgresHostUrl(merged));
      return problem ? { field: 'postgres.host', problem } : null;
    },
  },
  sftp: {
    settings: SftpConnectionSchema,
    create: { input: SftpCreateInput, split: splitSftpCreate },
    patch: { input: SftpPatchInput, apply: applySftpPatch },
    json: (settings, credentialsSet) => ({ sftp: { ...settings, credentialsSet } }),
    // Pinning stops another host only while the pin stays: a password goes to whichever host answers to the pinned key.
    credentialsBoundTo: { field: 'sftp.password', destination: (s) => `${s.host}:${s.port} ${s.hostKey}` },
    sourcePath: (s) => s.path,
    listsModifiedTimes: true,
    notifications: [],
    // The host is checked whenever this part sets it (or the port); names that resolve to refused addresses are caught when connecting.
    check: async (given, merged, edge) => {
      if (given.host === undefined && given.port === undefined) return null;
      const problem = edge.urlProblem(sftpUrl(merged.host, merged.port));
      return problem ? { field: 'sftp.host', problem } : null;
    },
  },
} satisfies { [K in SourceKind]: SourceKindSpec<K> };

/**
 * A PATCH that names a provider or an account id addresses the source anew
 * from the preset, keeping what the part itself sets (and the region, when
 * the provider stays the same); any other PATCH changes only what it names.
 */
function represet(current: S3Connection, part: z.output<typeof S3PatchInput>): Partial<S3Connection> {
  if (part.provider === undefined && part.accountId === undefined) return {};
  const provider = part.provider ?? current.provider;
  const sameProvider = provider === current.provider;
  // An endpoint the preset does not fill (AWS's) is the SDK's, not the old one.
  return {
    endpoint: undefined,
    ...resolveS3Addressing({
      provider,
      accountId: part.accountId ?? current.accountId,
      endpoint: part.endpoint,
      region: part.region ?? (sameProvider ? current.region : undefined),
      forcePathStyle: part.forcePathStyle,
    }),
  };
}

// The registry seen per kind, so a function generic in the kind can index it.
const SPECS: { [K in SourceKind]: SourceKindSpec<K> } = SOURCE_KINDS;

/** The kinds a create body may name, in the registry's order. */
export const CREATABLE_SOURCE_KINDS = (Object.keys(SPECS) as SourceKind[]).filter((k) => SPECS[k].create !== null);
/** The kinds with a part in a PATCH body, in the registry's order. */
export const PATCHABLE_SOURCE_KINDS = (Object.keys(SPECS) as SourceKind[]).filter((k) => SPECS[k].patch !== null);

const joinPath = (root: string, prefix: string) => (prefix === '' ? root : `${root}/${prefix}`);

/** The kind a stored connection is: the one place that reads it off the JSON's shape. */
export function sourceKindOf(connection: SourceConnection): SourceKind {
  if ('s3' in connection) return 's3';
  if ('filesystem' in connection) return 'filesystem';
  if ('upload' in connection) return 'upload';
  if ('azure' in connection) return 'azure';
  if ('gcs' in connection) return 'gcs';
  if ('postgres' in connection) return 'postgres';
  if ('sftp' in connection) return 'sftp';
  return assertNever(connection, 'source connection');
}

export function kindedConnection(connection: SourceConnection): KindedConnection {
  const kind = sourceKindOf(connection);
  return { kind, settings: (connection as Record<SourceKind, unknown>)[kind] } as KindedConnection;
}

/** The stored form of a kind's settings. */
export function storedConnection<K extends SourceKind>(kind: K, settings: SourceSettings<K>): SourceConnection {
  return { [kind]: settings } as SourceConnection;
}

/** The kind's fields of the API's source view. */
export function connectionJson<K extends SourceKind>(c: KindedConnection<K>, credentialsSet: boolean): object {
  return SPECS[c.kind].json(c.settings, credentialsSet);
}

/** The place a source reads from: Mixpeek's `source_path`. */
export function sourcePathOf<K extends SourceKind>(c: KindedConnection<K>): string {
  return SPECS[c.kind].sourcePath(c.settings);
}

/** The kind parts of a create or PATCH body: each under its kind's name. */
type CreateParts = { [K in SourceKind]?: SourceKindTypes[K]['create'] };
type PatchParts = { [K in SourceKind]?: SourceKindTypes[K]['patch'] };

/** Settings to store, credentials to seal, and the edge's checks of what was sent. */
export interface ConnectionChange {
  connection: SourceConnection;
  credentials: object | null;
  /** Null when the checks pass. */
  check(edge: EdgeChecks): Promise<FieldProblem | null>;
}

function change<K extends SourceKind>(
  kind: K,
  given: SourceKindTypes[K]['create'] | SourceKindTypes[K]['patch'],
  out: { settings: SourceSettings<K>; credentials: SourceCredentials<K> | null },
): ConnectionChange {
  return {
    connection: storedConnection(kind, out.settings),
    credentials: out.credentials,
    check: (edge) => SPECS[kind].check(given, out.settings, edge),
  };
}

/** The filters a kind cannot apply (a date filter where listings carry no modification time), or null. */
export function filtersProblem(kind: SourceKind, filters: { modifiedAfter?: unknown; modifiedBefore?: unknown } | undefined): FieldProblem | null {
  if (SPECS[kind].listsModifiedTimes || !filters) return null;
  const field = filters.modifiedAfter ? 'modifiedAfter' : filters.modifiedBefore ? 'modifiedBefore' : null;
  return field ? { field: `fileFilters.${field}`, problem: `${kind} sources list no modification times to compare` } : null;
}

/** The problem with a notifications mode the kind cannot take, or null. */
export function notificationsProblem(kind: SourceKind, mode: NotificationMode): FieldProblem | null {
  const modes: readonly NotificationMode[] = SPECS[kind].notifications;
  if (mode === 'off' || modes.includes(mode)) return null;
  const takes = modes.length === 0 ? 'take no change notifications' : `take ${modes.map((m) => `"${m}"`).join(' or ')}`;
  return { field: 'notifications.mode', problem: `${kind} sources ${takes}` };
}

/**
 * The problem with a PATCH that keeps a source's sealed credentials but moves
 * where they are sent (the kind's `credentialsBoundTo`), or null.
 */
export function movedCredentialsProblem(before: SourceConnection, after: ChangedConnection): FieldProblem | null {
  return movedFor(kindedConnection(before), after);
}

function movedFor<K extends SourceKind>(own: KindedConnection<K>, after: ChangedConnection): FieldProblem | null {
  const bound = SPECS[own.kind].credentialsBoundTo as SourceKindSpec<K>['credentialsBoundTo'];
  if (!bound || after.credentials !== null) return null;
  const next = kindedConnection(after.connection) as KindedConnection<K>;
  if (bound.destination(next.settings) === bound.destination(own.settings)) return null;
  return { field: bound.field, problem: 'give the credentials again to send them to a new endpoint or account' };
}

type ChangedConnection = Pick<ConnectionChange, 'connection' | 'credentials'>;

/** A create body's connection: its kind's part, split into settings and credentials. */
export function createConnection<K extends SourceKind>(kind: K, parts: CreateParts): ConnectionChange {
  const create = SPECS[kind].create;
  const part = parts[kind] as SourceKindTypes[K]['create'] | undefined;
  if (!create || part === undefined) throw new Error(`a ${kind} source is not created from this body`);
  return change(kind, part, create.split(part));
}

/**
 * A PATCH body's connection change: null when it names no kind; the first
 * kind part that is not the source's own kind is refused.
 */
export function patchConnection(current: SourceConnection, parts: PatchParts): ConnectionChange | { wrongKind: SourceKind } | null {
  const own = kindedConnection(current);
  const wrongKind = PATCHABLE_SOURCE_KINDS.find((k) => k !== own.kind && parts[k] !== undefined);
  if (wrongKind) return { wrongKind };
  return patchOwn(own, parts);
}

function patchOwn<K extends SourceKind>(own: KindedConnection<K>, parts: PatchParts): ConnectionChange | null {
  const patch = SPECS[own.kind].patch;
  const part = parts[own.kind] as SourceKindTypes[K]['patch'] | undefined;
  if (!patch || part === undefined) return null;
  return change(own.kind, part, patch.apply(own.settings, part));
}
