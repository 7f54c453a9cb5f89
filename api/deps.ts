import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { SecretBox } from '../domain/secrets.js';
import type { Authenticator } from './auth.js';
import type { PageTokens } from './pagination.js';
import type { UrlSigner } from '../domain/signed-urls.js';
import type { LakeStore } from '../lake/types.js';
import type { EgressPolicy } from '../domain/egress-policy.js';
import type { FsAccess } from '../domain/fs-roots.js';
import type { MultipartLimits } from './multipart-files.js';
import type { VectorIndexKind } from '../domain/embeddings/kinds.js';

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
  /** Base of signed object URLs; when unset, a trusted proxy's forwarded origin or the address the request arrived at. */
  publicUrl?: string;
  /** Proxies (IPs, CIDRs, express presets) whose X-Forwarded-* headers are believed; none when unset. */
  trustProxy?: string[];
  /** Searches: Postgres statement timeout, and how many run at once (defaults: 5000 ms, 4). */
  search?: { timeoutMs: number; concurrency: number };
  /** The vector index searches use, chosen at start (catalog/vector-index.ts); exact scan when unset. */
  vectorIndex?: VectorIndexKind;
  /** Refuses tenant-given endpoints and webhook URLs that are denied literally (IPs, `localhost`, metadata names). */
  egress: EgressPolicy;
  /** Where filesystem sources may read (the worker checks again against its own). */
  fsAccess: FsAccess;
  /** What one multipart upload request may carry. */
  uploadLimits: MultipartLimits;
  /** The S3 endpoint: the region clients sign for (default us-east-1) and the virtual-host domain, if any. */
  s3?: { region: string; domain?: string };
  log: Logger;
}
