/**
 * Change notifications: how a source tells lakesync that keys changed, so a
 * targeted run copies them within seconds instead of at the next poll. The
 * modes a kind supports are its `notifications` entry in SOURCE_KINDS
 * (domain/source-kinds.ts); the schedule stays on as the reconciler that
 * catches lost events.
 *
 * - `webhook`: S3 event notifications (MinIO's webhook target, AWS via
 *   EventBridge or SNS) POSTed to `/:bucket/sources/:sourceId/events` with
 *   `Authorization: Bearer <token>`, the per-source token shown once.
 * - `watch`: a worker watches a filesystem source's directory.
 * - `sqs`: a worker long-polls the SQS queue the bucket's notifications go to
 *   (S3 → SQS directly, through SNS, or from EventBridge).
 */
import { z } from 'zod';
import { assertNever } from './kinds.js';
import type { KindedConnection } from './source-kinds.js';
import { text } from './text.js';

export const NOTIFICATION_MODES = ['off', 'webhook', 'watch', 'sqs'] as const;
export type NotificationMode = (typeof NOTIFICATION_MODES)[number];

/** An SQS queue's URL, e.g. `https://sqs.eu-west-1.amazonaws.com/123456789012/lake-events`: the queue is its last path segment. */
const QueueUrl = text().url().max(2048).refine(isQueueUrl, 'must be an http(s) SQS queue URL (…/account/queue-name)');
function isQueueUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return /^https?:$/.test(url.protocol) && /\/[^/]+$/.test(url.pathname) && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}
const Region = text()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9-]+$/, 'must be a region name such as eu-west-1');

/** Where an `sqs` source's events wait; its own credentials, when it has any, are sealed apart (`sealedNotificationToken`). */
const SqsQueueSettings = z.object({
  queueUrl: QueueUrl,
  /** Signing region; absent: the one an AWS queue URL names, else the source's S3 region. */
  region: Region.optional(),
  /** The SQS API's endpoint; absent: the queue URL's origin. */
  endpoint: text().url().optional(),
});

export const NotificationSettingsSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('off') }).strict(),
  z.object({ mode: z.literal('webhook') }).strict(),
  z.object({ mode: z.literal('watch') }).strict(),
  SqsQueueSettings.extend({ mode: z.literal('sqs') }).strict(),
]);
export type NotificationSettings = z.infer<typeof NotificationSettingsSchema>;
export type SqsNotificationSettings = Extract<NotificationSettings, { mode: 'sqs' }>;

/** An SQS queue's own credentials: absent, the source's S3 credentials read the queue (AWS roles usually hold both). */
const QueueCredentials = z
  .object({
    accessKeyId: text().min(1).max(256),
    secretAccessKey: text().min(1).max(512),
    sessionToken: text().min(1).max(8192).optional(),
  })
  .strict();
export type QueueCredentials = z.infer<typeof QueueCredentials>;

const SQS_ONLY = ['queueUrl', 'region', 'endpoint', 'credentials'] as const;

/**
 * A create or PATCH body's `notifications`, which replaces the setting whole:
 * a mode; for a webhook whether to issue a new token; for `sqs` the queue
 * (and credentials for it, sealed, never shown).
 */
export const NotificationsInput = z
  .object({
    mode: z.enum(NOTIFICATION_MODES),
    /** Issue a new webhook token (the old one stops working at once); shown once, in this answer. */
    rotateToken: z.boolean().optional(),
    ...SqsQueueSettings.partial().shape,
    credentials: QueueCredentials.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.rotateToken && v.mode !== 'webhook') ctx.addIssue({ code: 'custom', message: 'only a webhook has a token to rotate', path: ['rotateToken'] });
    if (v.mode === 'sqs' && v.queueUrl === undefined) ctx.addIssue({ code: 'custom', message: 'is required with mode "sqs"', path: ['queueUrl'] });
    for (const f of SQS_ONLY) if (v.mode !== 'sqs' && v[f] !== undefined) ctx.addIssue({ code: 'custom', message: 'only applies to mode "sqs"', path: [f] });
  });
export type NotificationsInputValue = z.infer<typeof NotificationsInput>;

/** The region an AWS queue URL names (`sqs.<region>.amazonaws.com`, or the legacy `<region>.queue.amazonaws.com`), else null. */
export function queueUrlRegion(queueUrl: string): string | null {
  const host = new URL(queueUrl).hostname;
  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ?? /^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ?? null;
}

/** What the events route answers and what a PATCH shows once: the route an S3 webhook target POSTs to. */
export const eventsPath = (bucket: string, sourceId: string): string => `/${encodeURIComponent(bucket)}/sources/${encodeURIComponent(sourceId)}/events`;

/**
 * A sequencer as stored: S3 sequencers are hex strings that grow per key and
 * compare after padding to one length (AWS says so; MinIO's are of one
 * length anyway), so padded to a fixed width Postgres compares them as text.
 */
export const storedSequencer = (s: string | null): string | null => (s === null ? null : s.toUpperCase().padStart(SEQUENCER_WIDTH, '0'));
// The longest sequencer the events route accepts (domain/s3-events.ts).
const SEQUENCER_WIDTH = 64;

/**
 * Where a source's S3 events (from its webhook or its SQS queue) may point:
 * its S3 bucket and prefix. Null for kinds that take neither (their events
 * route answers 401: no token).
 */
export function webhookScope(c: KindedConnection): { bucket: string; prefix: string } | null {
  switch (c.kind) {
    case 's3':
      return { bucket: c.settings.bucket, prefix: c.settings.prefix };
    case 'filesystem':
    case 'upload':
    case 'azure':
    case 'gcs':
    case 'postgres':
    case 'sftp':
      return null;
    default:
      return assertNever(c);
  }
}
