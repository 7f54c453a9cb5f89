/** Failure types shared by activities and workflows (ApplicationFailure.type). */
export const FAILURE = {
  sourceNotFound: 'SourceNotFound',
  badSourceConfig: 'BadSourceConfig',
  sourceUnreachable: 'SourceUnreachable',
  deleteLimitExceeded: 'DeleteLimitExceeded',
} as const;
