import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SourceRow } from '../db/schema.js';
import type { NotificationsInputValue } from '../domain/notifications.js';
import type { SecretBox } from '../domain/secrets.js';
import { notificationsProblem } from '../domain/source-kinds.js';
import { ApiError } from './errors.js';

type NotificationColumns = Pick<SourceRow, 'notifications' | 'sealedNotificationToken'>;

/**
 * A create's or PATCH's `notifications`: the columns to write, and the
 * webhook token it issued (shown once). Enabling the webhook, or asking for
 * rotateToken, issues a new token; any other mode drops it.
 */
export function notificationsChange(
  source: Pick<SourceRow, 'kind'> & Partial<NotificationColumns>,
  input: NotificationsInputValue,
  secrets: SecretBox,
): { set: NotificationColumns; token?: string } {
  const refused = notificationsProblem(source.kind, input.mode);
  if (refused) throw ApiError.invalid(refused.field, refused.problem);
  if (input.mode !== 'webhook') return { set: { notifications: { mode: input.mode }, sealedNotificationToken: null } };
  const keep = source.notifications?.mode === 'webhook' && source.sealedNotificationToken && !input.rotateToken;
  if (keep) return { set: { notifications: { mode: 'webhook' }, sealedNotificationToken: source.sealedNotificationToken! } };
  const token = `lsn_${randomBytes(32).toString('base64url')}`;
  return { set: { notifications: { mode: 'webhook' }, sealedNotificationToken: secrets.seal(token) }, token };
}

/** Whether `presented` is the source's webhook token; compared in constant time. */
export function tokenMatches(source: NotificationColumns, presented: string, secrets: SecretBox): boolean {
  if (source.notifications.mode !== 'webhook' || source.sealedNotificationToken === null) return false;
  const digest = (t: string) => createHash('sha256').update(t).digest();
  return timingSafeEqual(digest(secrets.open<string>(source.sealedNotificationToken)), digest(presented));
}
