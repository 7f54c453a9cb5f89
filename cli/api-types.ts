/**
 * The shapes the CLI reads from API responses: the API's own response
 * schemas (api/contract/, pure zod), so the two cannot drift. `--json` prints
 * responses whole, whatever they carry.
 */
import { z } from 'zod';
import { JobDetail } from '../api/contract/jobs.js';

export type { Bucket } from '../api/contract/buckets.js';
import type { SearchResults as SearchResultsSchema, VectorSearchResults as VectorSearchResultsSchema } from '../api/contract/search.js';
export type SearchResults = z.infer<typeof SearchResultsSchema>;
export type VectorSearchResults = z.infer<typeof VectorSearchResultsSchema>;
export type { Page } from '../api/contract/common.js';
export type { CreatedServiceAccountKey, ServiceAccountKey } from '../api/contract/keys.js';
export type { DeadLetter, Source, SyncStatus } from '../api/contract/sources.js';
export { TriggerResult as TriggerResultSchema } from '../api/contract/sources.js';

export { TERMINAL_JOB_STATUSES } from '../domain/statuses.js';

/** A job, listed (without its failed objects) or fetched whole: what `sync` and `retry` poll and decide their exit code on. */
export const JobSchema = JobDetail.partial({ failedObjects: true });
export type Job = z.infer<typeof JobSchema>;
