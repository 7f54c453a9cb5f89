/** Where ending a FULL upload sync moves what the sync did not upload, so a restore can bring it back. */
export const TRASH_PREFIX = '.trash/';
export const trashKey = (syncId: string, key: string): string => `${TRASH_PREFIX}${syncId}/${key}`;
