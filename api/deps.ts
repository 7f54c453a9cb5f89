import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { SecretBox } from '../domain/secrets.js';
import type { Authenticator } from './auth.js';
import type { PageTokens } from './pagination.js';
import type { UrlSigner } from '../domain/signed-urls.js';
import type { LakeStore } from '../activities/storage/types.js';
import type { FsAccess } from '../domain/fs-roots.js';

/** What routers are built from (injected, so tests hand in real services). */
export interface ApiDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  secrets: SecretBox;
  pageTokens: PageTokens;
  auth: Authenticator;
  lake: LakeStore;
  urlSigner: UrlSigner;
  /** Base of signed object URLs; the request's own origin when unset. */
  publicUrl?: string;
  /** Where filesystem sources may read (the worker checks again against its own). */
  fsAccess: FsAccess;
  log: Logger;
}
