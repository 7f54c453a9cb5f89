// GetObject and HeadObject: Range, conditional headers and response-* overrides, as S3 answers them; the
// bytes stream from the lake.
import { sendBody } from '../../send-body.js';
import { textProblem } from '../../../domain/text.js';
import { conditionalRead, requestedRange } from '../../object-conditions.js';
import { setObjectHeaders } from '../../object-metadata.js';
import { requestBucket } from '../access.js';
import type { S3Context } from '../context.js';
import { S3Error } from '../errors.js';
import { s3ExistingKey } from '../keys.js';
import { s3Head } from '../object-head.js';

/** The response-* parameters and the header each overrides. */
const OVERRIDES = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
} as const;

/** The one explicit range `bytes=a-b` that S3 clients' ranged downloads send; anything else is read after a head. */
function explicitRange(header: string | undefined): { start: number; end: number } | undefined {
  const m = header === undefined ? null : /^bytes=(\d{1,15})-(\d{1,15})$/.exec(header);
  if (!m) return undefined;
  const range = { start: Number(m[1]), end: Number(m[2]) };
  return range.start <= range.end ? range : undefined;
}

/**
 * A GET's bytes in one ask of the lake, whose answer carries the head: the whole object, or an explicit range (the
 * lake serves what of it the object has). Undefined when the request needs the head first (a HEAD, another Range
 * form) or the range lies past the end (the head then names the size in the error).
 */
async function askOnce(ctx: S3Context, bucket: string, key: string, withBody: boolean) {
  const header = ctx.req.headers.range;
  const range = explicitRange(header);
  if (!withBody || (header !== undefined && !range)) return undefined;
  try {
    const got = await ctx.deps.lake.get(bucket, key, range);
    return got && { ...got, range };
  } catch (err) {
    // S3's code, or a bare 416 from a store or proxy that sends no error document.
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'InvalidRange' || e.$metadata?.httpStatusCode === 416) return undefined;
    throw err;
  }
}

async function readObject(ctx: S3Context, withBody: boolean): Promise<void> {
  const bucket = await requestBucket(ctx, 'read');
  const key = s3ExistingKey(ctx);
  if (key === null) throw S3Error.noSuchKey(ctx.key!);
  const { deps, req, res } = ctx;
  const once = await askOnce(ctx, bucket.name, key, withBody);
  // Until the bytes are piped (after a query below) an error opening them (the file deleted meanwhile, EMFILE) must not
  // go unheard: the stream keeps it, and sendBody below answers it.
  once?.body.on('error', () => undefined);
  const found = once?.head ?? (await deps.lake.head(bucket.name, key));
  if (!found) throw S3Error.noSuchKey(key);
  // Whatever answers before the bytes do (an error, a 304) lets go of the lake's stream.
  res.once('close', () => once?.body.destroy());
  // The client may have gone while the lake was asked: its 'close' is past.
  if (res.destroyed) once?.body.destroy();
  const head = await s3Head(deps, bucket.id, key, found);
  const partNumber = ctx.query.get('partNumber');
  if (partNumber !== undefined && partNumber !== '1')
    throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', { PartNumberRequested: partNumber });
  const conditional = conditionalRead(req, head);
  if (conditional === 412)
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: req.headers['if-match'] ? 'If-Match' : 'If-Unmodified-Since',
    });
  setObjectHeaders(res, head, 'binary/octet-stream');
  if (conditional === 304) {
    res.removeHeader('Content-Type');
    return void res.status(304).end();
  }
  for (const [param, header] of Object.entries(OVERRIDES)) {
    const value = ctx.query.get(param);
    if (value === undefined) continue;
    if (textProblem(value) || /[^\x20-\x7e]/.test(value)) throw S3Error.invalidArgument(param, `${param} must be printable ASCII`, value);
    res.setHeader(header, value);
  }
  const asked = requestedRange(req, head.size);
  if (asked === 'unsatisfiable') {
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: String(req.headers.range),
      ActualObjectSize: String(head.size),
    });
  }
  const range = asked ?? undefined;
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${head.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(head.size));
  }
  if (!withBody) return void res.end();
  // What the one ask brought is exactly what is answered: the same start, and the end the object allows.
  const served = once && (once.range ? range?.start === once.range.start && range.end === Math.min(once.range.end, head.size - 1) : !range);
  if (once && !served) once.body.destroy();
  const got = served ? once : await deps.lake.get(bucket.name, key, range);
  if (!got) throw S3Error.noSuchKey(key);
  const sent = await sendBody(got.body, res);
  // Headers are out: the client sees a short body, which S3 clients detect by Content-Length and retry.
  if (sent.ended === 'source-failed')
    deps.log.warn({ err: sent.err, requestId: ctx.requestId }, 'reading the object failed mid-download; the response was cut short');
}

export const getObject = (ctx: S3Context) => readObject(ctx, true);
export const headObject = (ctx: S3Context) => readObject(ctx, false);
