import type { Db } from '../db/client.js';
import type { SecretBox } from '../domain/secrets.js';
import type { LakeStore } from '../lake/types.js';
import type { Throttle } from './throttle.js';
import type { UrlSigner } from '../domain/signed-urls.js';
import type { CopySlots } from './copy-slots.js';
import type { TenantShare } from './tenant-share.js';
import type { EgressPolicy } from '../domain/egress-policy.js';
import type { FsAccess } from '../domain/fs-roots.js';

/**
 * Everything activities touch, handed in by the worker so tests can pass real or fake parts.
 * No logger: activities log through `Context.current().log`, which carries the job's correlation fields.
 */
export interface ActivityDeps {
  db: Db;
  lake: LakeStore;
  secrets: SecretBox;
  /** Objects copied at once inside one batch activity. */
  objectConcurrency: number;
  /**
   * The worker's copy slots (batch × object concurrency), shared by every
   * batch it runs: a batch's slow tail never leaves slots idle while the
   * workflow dispatches the next one, and no source holds more than its
   * share while another source's copies wait.
   */
  copySlots: CopySlots;
  /** Holds an organisation past its quantum of activity time to one copy at a time, its scans paced, while a newcomer has a sync under way here. */
  tenants: TenantShare;
  /** Batches a sync run keeps in flight. */
  batchConcurrency: number;
  /** Objects per listing page; one bulk statement each. */
  listPageSize: number;
  /** Copy attempts before an object is dead-lettered. */
  maxAttempts: number;
  /** Base backoff between per-object attempts. */
  retryBackoffMs: number;
  /** Where filesystem sources may read: the roots, minus lakesync's own state and the kernel's pseudo-filesystems. */
  fsAccess: FsAccess;
  /** Caps object copies per second on this worker (0: no cap). */
  throttle: Throttle;
  /** Where tenant-given destinations (S3 source endpoints, webhook URLs) may connect. */
  egress: EgressPolicy;
  /** Signs the object URLs webhook deliveries carry. */
  urlSigner: UrlSigner;
  /** Where signed object URLs point (the API's public URL); undefined when it is not known. */
  objectUrlBase: () => string | undefined;
}
