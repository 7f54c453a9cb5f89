/**
 * The SQS side of the `sqs` notification tests: a client of the test's
 * ElasticMQ, and S3 event notifications as S3 itself sends them to a queue
 * (MinIO cannot publish to SQS, so the test sends, after each change it makes
 * in MinIO, the message S3 would have sent: the shape of AWS's "Event message
 * structure", version 2.1, one record per message).
 */
import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';

export const sqsClient = (endpoint: string): SQSClient =>
  new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

export async function createQueue(sqs: SQSClient, name: string, visibilityTimeoutSeconds = 30): Promise<string> {
  const res = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds) } }));
  return res.QueueUrl!;
}

/** Messages waiting plus messages received and not yet deleted. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

let sequence = BigInt(Date.now()) * 1_000_000n;
/** S3's sequencers grow per key; one counter for every key will do. */
const nextSequencer = () => (sequence++).toString(16).toUpperCase().padStart(18, '0');

/** S3 form-encodes keys in event notifications: spaces become `+`. */
const formEncode = (key: string) => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');

export interface ObjectChange {
  bucket: string;
  key: string;
  /** A PUT's size and etag; absent for a DELETE. */
  put?: { size: number; eTag: string };
}

/** The body S3 sends to an SQS queue for one change. */
export function s3EventMessage(change: ObjectChange): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: now,
        eventName: change.put ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
        userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(), 'x-amz-id-2': randomBytes(24).toString('base64') },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'lakesync',
          bucket: { name: change.bucket, ownerIdentity: { principalId: 'A3EXAMPLE' }, arn: `arn:aws:s3:::${change.bucket}` },
          object: {
            key: formEncode(change.key),
            ...(change.put ? { size: change.put.size, eTag: change.put.eTag.replace(/"/g, '') } : {}),
            sequencer: nextSequencer(),
          },
        },
      },
    ],
  });
}

/** What S3 sends once a notification configuration is saved. */
export const s3TestEventMessage = (bucket: string): string =>
  JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date().toISOString(), Bucket: bucket, RequestId: 'EXAMPLE', HostId: 'EXAMPLE' });

export async function sendMessage(sqs: SQSClient, queueUrl: string, body: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/** Sends the bodies ten to a batch, as SQS takes them. */
export async function sendMessages(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    const entries: SendMessageBatchRequestEntry[] = bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody }));
    const res = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    if (res.Failed?.length) throw new Error(`SendMessageBatch failed for ${res.Failed.length} messages`);
  }
}
