import { describe, expect, it } from 'vitest';
import { parseListing } from '../../activities/storage/s3-listing.js';
import { S3ResponseError, s3ErrorAnswer } from '../../lake/s3-wire.js';

const answer = (body: string, o: { truncated?: boolean; encoded?: boolean; pretty?: boolean } = {}) => {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>src</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>${o.encoded === false ? '' : '<EncodingType>url</EncodingType>'}` +
    `<IsTruncated>${o.truncated ? 'true' : 'false'}</IsTruncated>${body}</ListBucketResult>`;
  return o.pretty ? xml.replace(/></g, '>\n  <') : xml;
};
const entry = (key: string, etag = '&#34;9b2cf535f27731c974343645a3985328&#34;', size = 4096) =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-28T06:56:59.041Z</LastModified><ETag>${etag}</ETag><Size>${size}</Size>` +
  `<Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

describe('parseListing (ListObjectsV2 answers)', () => {
  it('reads every entry: URL-decoded keys, unescaped ETags, sizes and times', () => {
    const page = parseListing(
      answer(entry('data%2F000%2Fobj+1.bin') + entry('caf%C3%A9%2F%E2%9C%93%01.txt', '&quot;abc-2&quot;', 0) + entry('plain/key.bin'), { truncated: true }),
    );
    expect(page.truncated).toBe(true);
    expect(page.contents).toEqual([
      { key: 'data/000/obj 1.bin', etag: '"9b2cf535f27731c974343645a3985328"', size: 4096, lastModified: new Date('2026-11-28T06:56:59.041Z') },
      { key: 'café/✓\u0001.txt', etag: '"abc-2"', size: 0, lastModified: new Date('2026-11-28T06:56:59.041Z') },
      { key: 'plain/key.bin', etag: '"9b2cf535f27731c974343645a3985328"', size: 4096, lastModified: new Date('2026-11-28T06:56:59.041Z') },
    ]);
  });

  it('takes keys as they are when the store ignored EncodingType, unescaping XML only', () => {
    // `&amp;quot;` is the text &quot;, not a quote: entities are read once, whichever goes first.
    const page = parseListing(answer(entry('a &amp; b+c%2F.txt') + entry('&amp;quot;&quot;&lt;1&gt;&apos;', '&quot;&amp;quot;&quot;'), { encoded: false }));
    expect(page.contents.map((c) => [c.key, c.etag])).toEqual([
      ['a & b+c%2F.txt', '"9b2cf535f27731c974343645a3985328"'],
      ['&quot;"<1>\'', '"&quot;"'],
    ]);
    expect(page.truncated).toBe(false);
  });

  it('reads pretty-printed answers and empty listings', () => {
    expect(parseListing(answer(entry('k1') + entry('k2'), { pretty: true })).contents.map((c) => [c.key, c.size])).toEqual([
      ['k1', 4096],
      ['k2', 4096],
    ]);
    expect(parseListing(answer(''))).toEqual({ contents: [], truncated: false });
  });

  it('refuses what is not a listing, or one cut short', () => {
    expect(() => parseListing('<html><body>proxy error</body></html>')).toThrow(S3ResponseError);
    expect(() => parseListing(answer(entry('k1')).replace('</Contents>', ''))).toThrow(/cut short/);
  });

  it('refuses entries no S3 service answers, as a foreign answer', () => {
    for (const [bad, message] of [
      [answer(entry('k1', '"e"', -1)), /size/],
      [answer(entry('k1').replace('2026-11-28T06:56:59.041Z', 'yesterday')), /modification time/],
      [answer(entry('bad%E0%A4%A')), /does not read/],
      [answer(entry('k&#x110000;1'), { encoded: false }), /does not read/],
    ] as const) {
      let thrown: unknown;
      try {
        parseListing(bad);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(S3ResponseError);
      expect(thrown).toMatchObject({ name: 'MalformedListing', foreignAnswer: true, message: expect.stringMatching(message) });
    }
  });
});

describe('s3ErrorAnswer', () => {
  it('names an S3 error by its code, and an answer without an S3 error document as foreign', () => {
    const s3 = s3ErrorAnswer(403, '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>', 'ListObjectsV2');
    expect([s3.name, s3.message, s3.status, s3.$metadata.httpStatusCode, s3.foreignAnswer]).toEqual(['AccessDenied', 'Access Denied.', 403, 403, false]);
    const web = s3ErrorAnswer(404, '<html><body>Not here</body></html>', 'ListObjectsV2');
    expect([web.name, web.message, web.foreignAnswer]).toEqual(['HTTP404', 'ListObjectsV2 answered 404', true]);
  });
});
