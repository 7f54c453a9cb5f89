import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SourceRow } from '../db/schema.js';
import type { NotificationsInputValue } from '../domain/notifications.js';
import type { SecretBox } from '../domain/secrets.js';
import { notificationsProblem } from '../domain/source-kinds.js';
import { assertNever } from '../domain/kinds.js';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { ApiError } from './errors.js';

type NotificationColumns = Pick<SourceRow, 'notifications' | 'sealedNotificationToken'>;

/**
 * A create's or PATCH's `notifications`: the columns to write, the webhook
 * token it issued (shown once), and the destinations the edge checks against
 * the egress policy. Enabling the webhook, or asking for rotateToken, issues a
 * new token; `sqs` seals the queue's own credentials when given (else the
 * source's S3 credentials read the queue); any other mode drops the secret.
 */
export function notificationsChange(
  source: Pick<SourceRow, 'kind'> & Partial<NotificationColumns>,
  input: NotificationsInputValue,
  secrets: SecretBox,
): { set: NotificationColumns; token?: string; destinations: { field: string; url: string }[] } {
  const refused = notificationsProblem(source.kind, input.mode);
  if (refused) throw ApiError.invalid(refused.field, refused.problem);
  const { mode } = input;
  switch (mode) {
    case 'off':
    case 'watch':
      return { set: { notifications: { mode }, sealedNotificationToken: null }, destinations: [] };
    case 'sqs': {
      // The schema requires the queue URL with this mode.
      const queueUrl = input.queueUrl!;
      const notifications = { mode, queueUrl, ...(input.region ? { region: input.region } : {}), ...(input.endpoint ? { endpoint: input.endpoint } : {}) };
      // Where the poller connects: the endpoint when given (the queue URL then only names the queue), else the queue URL's host.
      const destinations = [input.endpoint ? { field: 'notifications.endpoint', url: input.endpoint } : { field: 'notifications.queueUrl', url: queueUrl }];
      return { set: { notifications, sealedNotificationToken: input.credentials ? secrets.seal(input.credentials) : null }, destinations };
    }
    case 'webhook': {
      const keep = source.notifications?.mode === 'webhook' && source.sealedNotificationToken && !input.rotateToken;
      if (keep) return { set: { notifications: { mode }, sealedNotificationToken: source.sealedNotificationToken! }, destinations: [] };
      const token = `lsn_${randomBytes(32).toString('base64url')}`;
      return { set: { notifications: { mode }, sealedNotificationToken: secrets.seal(token) }, token, destinations: [] };
    }
    default:
      return assertNever(mode);
  }
}

/** A create's or PATCH's notification destinations, refused by the egress policy as a source endpoint is: 400 naming the field. */
export function checkNotificationDestinations(egress: Pick<EgressPolicy, 'urlProblem'>, destinations: readonly { field: string; url: string }[]): void {
  for (const d of destinations) {
    const problem = egress.urlProblem(d.url);
    if (problem) throw ApiError.invalid(d.field, problem);
  }
}

/** Whether `presented` is the source's webhook token; compared in constant time. */
export function tokenMatches(source: NotificationColumns, presented: string, secrets: SecretBox): boolean {
  if (source.notifications.mode !== 'webhook' || source.sealedNotificationToken === null) return false;
  const digest = (t: string) => createHash('sha256').update(t).digest();
  return timingSafeEqual(digest(secrets.open<string>(source.sealedNotificationToken)), digest(presented));
}
