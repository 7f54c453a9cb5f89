import { z } from 'zod';
import { RUN_STATUSES } from '../../domain/statuses.js';
import { Millis } from './common.js';

/** One key of a listing: sizes as strings and the etag quoted, as S3 renders them. */
export const ObjectEntry = z.object({
  bucket: z.string(),
  key: z.string(),
  size: z.string(),
  etag: z.string(),
  lastModified: Millis,
  contentType: z.string(),
});
export type ObjectEntry = z.infer<typeof ObjectEntry>;

/** ListObjects: S3 semantics, with an opaque continuation token. */
export const ObjectList = z.object({
  objects: z.array(ObjectEntry),
  commonPrefixes: z.array(z.string()),
  isTruncated: z.boolean(),
  nextContinuationToken: z.string(),
  keyCount: z.number().int(),
});

/** One pipeline's state for an object: `pending` until it has run on this content. */
export const PipelineRunState = z.object({
  name: z.string(),
  kind: z.string(),
  status: z.enum(RUN_STATUSES),
  detail: z.string().nullable(),
  error: z.string().nullable(),
  attempts: z.number().int(),
  jobId: z.string().nullable(),
  updatedAt: Millis,
});
export type PipelineRunState = z.infer<typeof PipelineRunState>;

/** GetObjectInfo: the lake's metadata, where the object came from, and its ingestion and index state. */
export const ObjectInfo = z.object({
  bucket: z.string(),
  key: z.string(),
  size: z.string(),
  etag: z.string(),
  contentType: z.string(),
  /** The headers stored with the object at its write (null: none given). */
  cacheControl: z.string().nullable(),
  contentDisposition: z.string().nullable(),
  contentEncoding: z.string().nullable(),
  contentLanguage: z.string().nullable(),
  expires: z.string().nullable(),
  /** `x-amz-meta-*`: names lower-cased, without the prefix. */
  userMetadata: z.record(z.string(), z.string()),
  lastModified: Millis,
  source: z.object({ sourceId: z.string(), name: z.string(), kind: z.string(), sourceKey: z.string(), sourceEtag: z.string() }).nullable(),
  /** The catalog row it came from: what `POST …/sources/:sourceId/ingest` `{ sourceObjectId }` names. */
  sourceObjectId: z.string().nullable(),
  jobId: z.string().nullable(),
  ingestionStatus: z.enum(['INGESTED', 'PENDING', 'FAILED', 'UNKNOWN']),
  ingestedAt: Millis,
  contentHash: z.string().nullable(),
  processingStatus: z.enum(['PROCESSING', 'PROCESSED']).nullable(),
  /** By pipeline id. */
  indexStatus: z.record(z.string(), PipelineRunState),
  indexed: z.boolean(),
});

/** GetObjectUrl: a signed URL and when it stops working (epoch milliseconds). */
export const ObjectUrl = z.object({ url: z.string(), expiresAt: z.string() });
