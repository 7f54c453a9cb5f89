import type { Readable } from 'node:stream';
import { RUN_STATUS } from '../../domain/statuses.js';
import { extractText, looksBinary, textFormatOf } from '../../domain/text-extract.js';
import type { ActivityDeps } from '../deps.js';
import type { PipelineOutcome, StoredObject } from './types.js';

/**
 * Lets go of a lake body unread. An S3 lake's body (undici's) errors when destroyed before its end, and an
 * 'error' nobody listens to is an uncaught exception that takes the worker down.
 */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** Up to `limit` bytes of a body, then the body closed. */
async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    n += chunk.length;
    if (n >= limit) break;
  }
  discard(body);
  return Buffer.concat(chunks).subarray(0, limit);
}

/**
 * A stored object's text as the text pipelines read it: its first `maxBytes`
 * from the lake, in the format its key or content type names. An object with
 * no text (not a text format, or binary content) is a `skipped` outcome, and
 * what the pipeline held for it is dropped first (`drop`).
 */
export async function readStoredText(
  deps: ActivityDeps,
  obj: StoredObject,
  maxBytes: number,
  drop: () => Promise<unknown>,
): Promise<{ text: string; truncated: boolean; format: string } | { skip: Omit<PipelineOutcome, 'attempts'> }> {
  const truncated = obj.size > maxBytes;
  const got = await deps.lake.get(obj.bucketName, obj.lakeKey, truncated ? { start: 0, end: maxBytes - 1 } : undefined);
  if (!got) throw new Error(`object ${obj.lakeKey} is not in the lake`);
  const format = textFormatOf(obj.lakeKey, got.head.contentType);
  if (!format) {
    discard(got.body);
    await drop();
    return { skip: { status: RUN_STATUS.skipped, detail: `not a text-like object (${got.head.contentType ?? 'unknown type'})` } };
  }
  const bytes = await readAll(got.body, maxBytes);
  if (looksBinary(bytes)) {
    await drop();
    return { skip: { status: RUN_STATUS.skipped, detail: 'content is binary' } };
  }
  return { text: extractText(bytes, format), truncated, format };
}
