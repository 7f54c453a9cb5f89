/** Failure types shared by activities and workflows (ApplicationFailure.type). */
export const FAILURE = {
  sourceNotFound: 'SourceNotFound',
  badSourceConfig: 'BadSourceConfig',
  sourceUnreachable: 'SourceUnreachable',
  deleteLimitExceeded: 'DeleteLimitExceeded',
  /** A scan attempt that another, newer attempt overtook: it stops; the newer one goes on. */
  scanSuperseded: 'ScanSuperseded',
} as const;
