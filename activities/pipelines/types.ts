import type { RunOutcome } from '../../domain/statuses.js';

/** What one pipeline made of one object. */
export interface PipelineOutcome {
  status: RunOutcome;
  /** Human-readable detail: what was indexed, or why it was skipped. */
  detail?: string;
  error?: string;
  attempts: number;
}

/** The stored object a pipeline runs on. */
export interface StoredObject {
  id: string;
  sourceId: string;
  bucketId: string;
  bucketName: string;
  lakeKey: string;
  /** The source etag that was ingested: pipeline state is kept per etag. */
  etag: string;
  size: number;
}
