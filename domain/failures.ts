/** Failure types shared by activities and workflows (ApplicationFailure.type). */
export const FAILURE = {
  sourceNotFound: 'SourceNotFound',
  badSourceConfig: 'BadSourceConfig',
  sourceUnreachable: 'SourceUnreachable',
  deleteLimitExceeded: 'DeleteLimitExceeded',
  /** A scan attempt that another, newer attempt overtook: it stops; the newer one goes on. */
  scanSuperseded: 'ScanSuperseded',
  /** A sweep asked of a sharded scan some of whose shards have not listed their range: nothing is swept. */
  scanIncomplete: 'ScanIncomplete',
  /** Postgres refused a value as data (SQLSTATE class 22: NUL in text, too long, out of range): the same input fails every time. */
  unstorableValue: 'UnstorableValue',
  /** A tenant-given destination the egress policy refuses: retrying cannot help. */
  egressDenied: 'EgressDenied',
  /** A tenant-given destination that could not be reached (strict mode hides how): worth retrying. */
  endpointUnreachable: 'EndpointUnreachable',
  /**
   * Per object, never retried (the object is dead-lettered at once): a source
   * file that is not what was listed (a link, a FIFO, outside the roots).
   */
  unsafeSourceObject: 'UnsafeSourceObject',
  /** Per object, never retried: a key the lake cannot store. */
  unstorableKey: 'UnstorableKey',
  /** Per object, never retried: in the directory lake, a file where a folder of the same name is stored, or the reverse. */
  lakeKeyConflict: 'LakeKeyConflict',
} as const;
