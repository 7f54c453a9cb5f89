import { removeFulltextDocument, storeFulltextDocument } from '../../catalog/index.js';
import type { FulltextConfig } from '../../domain/pipelines.js';
import { RUN_STATUS } from '../../domain/statuses.js';
import type { ActivityDeps } from '../deps.js';
import { readStoredText } from './stored-text.js';
import type { PipelineOutcome, StoredObject } from './types.js';

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
  const read = await readStoredText(deps, obj, config.maxBytes, () => removeFulltextDocument(sql, obj.id, pipelineId));
  if ('skip' in read) return read.skip;
  const { format, truncated } = read;
  // Postgres rejects NUL in text and caps a tsvector near 1 MiB of lexemes; long documents index their start.
  // U+E000/U+E001 mark matches in search snippets: the document's own are dropped.
  const text = read.text.replace(/[\0\uE000\uE001]/g, '');
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
