/**
 * S3 event notifications as they arrive at a source's events route: the AWS
 * shape `Records[].s3.object` (MinIO's webhook target sends it as is), the
 * same wrapped in an SNS notification, and EventBridge's `Object Created` /
 * `Object Deleted` events. Each becomes a normalized ChangeEvent; what the
 * event claims (size, etag) is not trusted: the targeted run HEADs the key.
 */
import { z } from 'zod';
import { text } from './text.js';

export interface ChangeEvent {
  bucket: string;
  /** The object key, URL-decoded. */
  key: string;
  sequencer: string | null;
  removed: boolean;
}

const Sequencer = text()
  .max(64)
  .regex(/^[0-9A-Fa-f]*$/, 'must be hexadecimal');
// Keys arrive URL-encoded, so printable ASCII; S3 keys are at most 1024 bytes, encoded at most three times that.
const EncodedKey = text().min(1).max(3072);

const S3Record = z.object({
  eventName: text().max(256),
  s3: z.object({
    bucket: z.object({ name: text().min(1).max(255) }),
    object: z.object({ key: EncodedKey, size: z.number().optional(), eTag: text().max(256).optional(), sequencer: Sequencer.optional() }),
  }),
});

const S3Records = z.object({ Records: z.array(S3Record).max(1000) });

const EventBridge = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.enum(['Object Created', 'Object Deleted']),
  detail: z.object({
    bucket: z.object({ name: text().min(1).max(255) }),
    object: z.object({ key: EncodedKey, sequencer: Sequencer.optional() }),
  }),
});

const SnsNotification = z.object({ Type: z.literal('Notification'), Message: text('multiline').max(256 * 1024) });

/** S3 sends one when a notification configuration is saved: nothing changed. */
const TestEvent = z.object({ Event: z.literal('s3:TestEvent') });

/** The body schema the route documents: any of the accepted forms. */
export const S3EventBody = z.union([S3Records, EventBridge, SnsNotification, TestEvent]);

/** Control characters no lake key holds; the encoded key passed the edge's text check, the decoded one must too. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** S3 event keys are form-encoded: `+` is a space. A key that decodes to control characters names nothing storable. */
const decodeKey = (key: string): string | null => {
  try {
    const decoded = decodeURIComponent(key.replace(/\+/g, ' '));
    return CONTROL.test(decoded) ? null : decoded;
  } catch {
    return null;
  }
};

/**
 * The change events a parsed body holds; `undecodable` counts records whose
 * key is not valid percent-encoding (ignored: no object can be named so).
 */
export function changeEvents(
  body: z.output<typeof S3EventBody>,
): { events: ChangeEvent[]; undecodable: number } | { problem: { field: string; problem: string } } {
  if ('Event' in body) return { events: [], undecodable: 0 };
  if ('Type' in body) {
    let inner: unknown;
    try {
      inner = JSON.parse(body.Message);
    } catch {
      return { problem: { field: 'Message', problem: 'must hold an S3 event notification as JSON' } };
    }
    const parsed = z.union([S3Records, TestEvent]).safeParse(inner);
    if (!parsed.success) return { problem: { field: 'Message', problem: 'must hold an S3 event notification (Records[].s3.object)' } };
    return changeEvents(parsed.data);
  }
  const events: ChangeEvent[] = [];
  let undecodable = 0;
  const add = (bucket: string, encoded: string, sequencer: string | undefined, removed: boolean) => {
    const key = decodeKey(encoded);
    if (key === null) undecodable++;
    else events.push({ bucket, key, sequencer: sequencer || null, removed });
  };
  if ('detail' in body) add(body.detail.bucket.name, body.detail.object.key, body.detail.object.sequencer, body['detail-type'] === 'Object Deleted');
  else for (const r of body.Records) add(r.s3.bucket.name, r.s3.object.key, r.s3.object.sequencer, /ObjectRemoved/.test(r.eventName));
  return { events, undecodable };
}

/**
 * An SQS message's body as the queue poller reads it: S3's own message
 * (`Records[]`, or `s3:TestEvent` when a notification configuration is
 * saved), the same wrapped by SNS, or an EventBridge event. A body that is
 * none of them is a problem, described without quoting it.
 */
export function queuedChangeEvents(body: string): { events: ChangeEvent[]; undecodable: number } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { problem: 'the body is not JSON' };
  }
  const parsed = S3EventBody.safeParse(json);
  if (!parsed.success) return { problem: `the body is no S3 event notification (${parsed.error.issues[0]?.path.join('.') || 'body'} does not match)` };
  const events = changeEvents(parsed.data);
  return 'problem' in events ? { problem: `${events.problem.field} ${events.problem.problem}` } : events;
}
