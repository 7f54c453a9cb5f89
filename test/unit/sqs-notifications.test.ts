import { describe, expect, it } from 'vitest';
import { queuedChangeEvents } from '../../domain/s3-events.js';
import { NotificationsInput, queueUrlRegion } from '../../domain/notifications.js';

const s3Message = JSON.stringify({
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      s3: { s3SchemaVersion: '1.0', bucket: { name: 'b', arn: 'arn:aws:s3:::b' }, object: { key: 'a+b.txt', size: 3, eTag: 'e', sequencer: '0A' } },
    },
  ],
});

describe('SQS messages as the queue poller reads them', () => {
  it('reads S3 messages, SNS-wrapped ones, EventBridge events and test events', () => {
    expect(queuedChangeEvents(s3Message)).toEqual({ events: [{ bucket: 'b', key: 'a b.txt', sequencer: '0A', removed: false }], undecodable: 0 });
    expect(queuedChangeEvents(JSON.stringify({ Type: 'Notification', Message: s3Message }))).toMatchObject({ events: [{ key: 'a b.txt' }] });
    const eb = { source: 'aws.s3', 'detail-type': 'Object Deleted', detail: { bucket: { name: 'b' }, object: { key: 'k' } } };
    expect(queuedChangeEvents(JSON.stringify(eb))).toMatchObject({ events: [{ key: 'k', removed: true }] });
    expect(queuedChangeEvents(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' }))).toEqual({ events: [], undecodable: 0 });
  });

  it('describes a body it cannot read without quoting it', () => {
    const secret = 'AKIA-should-never-be-logged';
    for (const body of [`not json ${secret}`, JSON.stringify({ Records: secret }), JSON.stringify({ Type: 'Notification', Message: `{${secret}` })]) {
      const parsed = queuedChangeEvents(body);
      expect(parsed).toHaveProperty('problem');
      expect(JSON.stringify(parsed)).not.toContain(secret);
    }
  });
});

describe('sqs notification settings', () => {
  it('needs a queue URL with mode sqs, and takes queue settings with no other mode', () => {
    const problems = (v: unknown) => NotificationsInput.safeParse(v).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(problems({ mode: 'sqs', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q' })).toEqual([]);
    expect(problems({ mode: 'sqs' })).toEqual(['queueUrl: is required with mode "sqs"']);
    expect(problems({ mode: 'off', region: 'eu-west-1' })).toEqual(['region: only applies to mode "sqs"']);
    expect(problems({ mode: 'sqs', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/' })).toEqual([
      'queueUrl: must be an http(s) SQS queue URL (…/account/queue-name)',
    ]);
    expect(problems({ mode: 'sqs', queueUrl: 'ftp://x/1/q' })).toHaveLength(1);
  });

  it('reads the region off an AWS queue URL', () => {
    expect(queueUrlRegion('https://sqs.eu-west-1.amazonaws.com/123456789012/q')).toBe('eu-west-1');
    expect(queueUrlRegion('https://us-east-2.queue.amazonaws.com/123456789012/q')).toBe('us-east-2');
    expect(queueUrlRegion('http://127.0.0.1:9324/000000000000/q')).toBeNull();
  });
});
