/** Failure types shared by activities and workflows (ApplicationFailure.type). */
export const FAILURE = {
  sourceNotFound: 'SourceNotFound',
  badSourceConfig: 'BadSourceConfig',
  sourceUnreachable: 'SourceUnreachable',
  deleteLimitExceeded: 'DeleteLimitExceeded',
  /** A scan attempt that another, newer attempt overtook: it stops; the newer one goes on. */
  scanSuperseded: 'ScanSuperseded',
  /** A tenant-given destination the egress policy refuses: retrying cannot help. */
  egressDenied: 'EgressDenied',
  /** A tenant-given destination that could not be reached (strict mode hides how): worth retrying. */
  endpointUnreachable: 'EndpointUnreachable',
} as const;
