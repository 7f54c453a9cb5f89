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
 */
import { z } from 'zod';
import { assertNever } from './kinds.js';
import type { KindedConnection } from './source-kinds.js';

export const NOTIFICATION_MODES = ['off', 'webhook', 'watch'] as const;
export type NotificationMode = (typeof NOTIFICATION_MODES)[number];

export const NotificationSettingsSchema = z.object({ mode: z.enum(NOTIFICATION_MODES) }).strict();
export type NotificationSettings = z.infer<typeof NotificationSettingsSchema>;

/** A create or PATCH body's `notifications`: a mode, and for a webhook whether to issue a new token. */
export const NotificationsInput = z
  .object({
    mode: z.enum(NOTIFICATION_MODES),
    /** Issue a new webhook token (the old one stops working at once); shown once, in this answer. */
    rotateToken: z.boolean().optional(),
  })
  .strict()
  .refine((v) => !v.rotateToken || v.mode === 'webhook', { message: 'only a webhook has a token to rotate', path: ['rotateToken'] });
export type NotificationsInputValue = z.infer<typeof NotificationsInput>;

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
 * Where a source's webhook events may point: its S3 bucket and prefix. Null
 * for kinds that take no webhook (their events route answers 401: no token).
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
