import { describe, expect, it } from 'vitest';
import { changeEvents, S3EventBody } from '../../domain/s3-events.js';
import { storedSequencer } from '../../domain/notifications.js';
import { keyFilter } from '../../domain/filters.js';

const parse = (body: unknown) => changeEvents(S3EventBody.parse(body));
const record = (eventName: string, key: string, sequencer?: string) => ({
  eventName,
  s3: { bucket: { name: 'b' }, object: { key, size: 1, eTag: 'e', ...(sequencer ? { sequencer } : {}) } },
});

describe('S3 event notifications', () => {
  it('reads the AWS shape, URL-decoding keys (form encoding: + is a space)', () => {
    expect(
      parse({ EventName: 's3:ObjectCreated:Put', Key: 'b/a b', Records: [record('s3:ObjectCreated:Put', 'dir/a+b%2Bc%C3%A9.txt', '0055AED6DCD90281E5')] }),
    ).toEqual({
      events: [{ bucket: 'b', key: 'dir/a b+cé.txt', sequencer: '0055AED6DCD90281E5', removed: false }],
      undecodable: 0,
    });
    expect(parse({ Records: [record('s3:ObjectRemoved:Delete', 'x')] })).toEqual({
      events: [{ bucket: 'b', key: 'x', sequencer: null, removed: true }],
      undecodable: 0,
    });
  });

  it('counts keys that decode to NUL or other control characters as undecodable', () => {
    expect(
      parse({ Records: [record('s3:ObjectCreated:Put', 'a%00b'), record('s3:ObjectCreated:Put', 'c%0Ad'), record('s3:ObjectCreated:Put', 'ok')] }),
    ).toMatchObject({ undecodable: 2, events: [{ key: 'ok' }] });
  });

  it('counts keys that are not valid percent-encoding instead of guessing', () => {
    expect(parse({ Records: [record('s3:ObjectCreated:Put', 'bad%E0%A4%A'), record('s3:ObjectCreated:Put', 'ok')] })).toMatchObject({
      undecodable: 1,
      events: [{ key: 'ok' }],
    });
  });

  it('unwraps SNS notifications and reads EventBridge events', () => {
    const sns = { Type: 'Notification', Message: JSON.stringify({ Records: [record('s3:ObjectCreated:Copy', 'a%2Fb')] }) };
    expect(parse(sns)).toMatchObject({ events: [{ key: 'a/b', removed: false }] });
    expect(parse({ Type: 'Notification', Message: 'not json' })).toEqual({
      problem: { field: 'Message', problem: 'must hold an S3 event notification as JSON' },
    });
    const eb = { source: 'aws.s3', 'detail-type': 'Object Deleted', detail: { bucket: { name: 'b' }, object: { key: 'k+1', sequencer: '0A' } } };
    expect(parse(eb)).toEqual({ events: [{ bucket: 'b', key: 'k 1', sequencer: '0A', removed: true }], undecodable: 0 });
    expect(parse({ Event: 's3:TestEvent' })).toEqual({ events: [], undecodable: 0 });
  });

  it('refuses a sequencer that is not hex, and more than 1,000 records', () => {
    expect(S3EventBody.safeParse({ Records: [record('s3:ObjectCreated:Put', 'k', 'zz')] }).success).toBe(false);
    expect(S3EventBody.safeParse({ Records: Array.from({ length: 1001 }, () => record('s3:ObjectCreated:Put', 'k')) }).success).toBe(false);
  });

  it('stores sequencers so that text order is their order, whatever their length', () => {
    const a = storedSequencer('FF')!;
    const b = storedSequencer('0100')!;
    const c = storedSequencer('0055AED6DCD90281E5')!;
    expect([c, b, a].sort()).toEqual([a, b, c]);
    expect(storedSequencer('ab')).toBe(storedSequencer('00AB'));
    expect(storedSequencer(null)).toBeNull();
  });

  it('checks the filters’ globs on a key alone', () => {
    const passes = keyFilter({ includePatterns: ['docs/**'], excludePatterns: ['*.tmp'] });
    expect(['docs/a.txt', 'docs/a.tmp', 'other/a.txt'].map(passes)).toEqual([true, false, false]);
    expect(keyFilter({})('anything')).toBe(true);
  });
});
