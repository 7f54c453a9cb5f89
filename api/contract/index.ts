/** The API's response shapes, for the API, its OpenAPI document and the CLI alike. */
export * from './common.js';
export * from './buckets.js';
export * from './keys.js';
export * from './sources.js';
export * from './jobs.js';
export * from './objects.js';
export * from './uploads.js';
export * from './datainsider.js';
export * from './pipelines.js';
export * from './search.js';
export * from './health.js';
export * from './mixpeek.js';
