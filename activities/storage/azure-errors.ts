/**
 * How lakesync reads Azure's errors, apart from the reader: the source kind
 * registry classifies them on every worker, while `@azure/storage-blob`
 * (about 6 MiB of a worker's memory) loads only where an Azure source is read.
 */

/** An Azure error as the rest of lakesync reads errors: a code, an HTTP status, one line of message, and no request (it holds the SAS). */
export class AzureStorageError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | undefined,
    /** An HTTP answer without Azure's request id: some other server answered (public-error.ts hides it in strict mode). */
    readonly foreignAnswer: boolean,
  ) {
    super(message);
    this.name = 'AzureStorageError';
  }
}

/** Azure's answers that retrying within a run cannot fix: refused or wrong credentials, a missing container or account. */
const PERMANENT = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
  'AccountIsDisabled',
  'ContainerNotFound',
  'ContainerBeingDeleted',
  'ResourceNotFound',
  'InvalidResourceName',
]);
export const azurePermanent = (err: unknown): boolean => err instanceof AzureStorageError && PERMANENT.has(err.code);
