import type { Readable } from 'node:stream';
import { removeFulltextDocument, storeFulltextDocument } from '../../catalog/index.js';
import type { FulltextConfig } from '../../domain/pipelines.js';
import { RUN_STATUS } from '../../domain/statuses.js';
import { extractText, looksBinary, textFormatOf } from '../../domain/text-extract.js';
import type { ActivityDeps } from '../deps.js';
import type { PipelineOutcome, StoredObject } from './types.js';

/** Up to `limit` bytes of a body, then the body closed. */
export async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    n += chunk.length;
    if (n >= limit) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, limit);
}

/**
 * Extracts an object's text and upserts it into the bucket's full-text index.
 * Re-running it for the same object replaces the row, so retries are harmless.
 */
export async function runFulltext(
  deps: ActivityDeps,
  pipelineId: string,
  config: FulltextConfig,
  obj: StoredObject,
): Promise<Omit<PipelineOutcome, 'attempts'>> {
  const sql = deps.db.$client;
  const truncated = obj.size > config.maxBytes;
  const got = await deps.lake.get(obj.bucketName, obj.lakeKey, truncated ? { start: 0, end: config.maxBytes - 1 } : undefined);
  if (!got) throw new Error(`object ${obj.lakeKey} is not in the lake`);
  const format = textFormatOf(obj.lakeKey, got.head.contentType);
  if (!format) {
    got.body.destroy();
    await removeFulltextDocument(sql, obj.id, pipelineId);
    return { status: RUN_STATUS.skipped, detail: `not a text-like object (${got.head.contentType ?? 'unknown type'})` };
  }
  const bytes = await readAll(got.body, config.maxBytes);
  if (looksBinary(bytes)) {
    await removeFulltextDocument(sql, obj.id, pipelineId);
    return { status: RUN_STATUS.skipped, detail: 'content is binary' };
  }
  // Postgres rejects NUL in text and caps a tsvector near 1 MiB of lexemes; long documents index their start.
  // U+E000/U+E001 mark matches in search snippets: the document's own are dropped.
  const text = extractText(bytes, format).replace(/[\0\uE000\uE001]/g, '');
  // A tsvector holds at most 1 MB of lexemes: text dense with distinct words indexes a shorter start.
  for (let chars = 900_000; ; chars = Math.floor(chars / 4)) {
    try {
      await storeFulltextDocument(
        sql,
        { objectId: obj.id, pipelineId, bucketId: obj.bucketId, lakeKey: obj.lakeKey, etag: obj.etag, text, language: config.language },
        chars,
      );
      const cut = text.length > chars ? `; words indexed from the first ${chars} characters` : '';
      return {
        status: RUN_STATUS.indexed,
        detail: `${format}: ${text.length} characters${truncated ? `, first ${config.maxBytes} bytes of ${obj.size}` : ''}${cut}`,
      };
    } catch (err) {
      if ((err as { code?: string }).code !== '54000' || chars < 10_000) throw err;
    }
  }
}
