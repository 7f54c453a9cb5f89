/**
 * The kinds of source and pipeline. Every per-kind table is typed
 * `{ [K in SourceKind]: … }` (or `PipelineKind`) and every switch over a kind
 * ends in `assertNever`, so adding a kind here makes the compiler list each
 * place that must handle it. Imports nothing: workflow code may import it.
 */

export type SourceKind = 's3' | 'filesystem' | 'upload' | 'azure' | 'gcs' | 'postgres' | 'sftp';
export type PipelineKind = 'fulltext' | 'webhook' | 'embedding';

/**
 * How a kind's objects reach the lake: listed and copied from the source by
 * sync runs (on a schedule), or pushed into the lake by clients, so there is
 * nothing to list or copy and the built-in source of that kind holds no bucket.
 */
export type Arrival = 'listed' | 'pushed';
export const SOURCE_ARRIVAL: { readonly [K in SourceKind]: Arrival } = {
  s3: 'listed',
  filesystem: 'listed',
  upload: 'pushed',
  azure: 'listed',
  gcs: 'listed',
  postgres: 'listed',
  sftp: 'listed',
};

export const SOURCE_KIND_NAMES = Object.keys(SOURCE_ARRIVAL) as SourceKind[];
/** Kinds whose objects are pushed: the built-in push source of each bucket is one of them. */
export const PUSHED_SOURCE_KINDS = SOURCE_KIND_NAMES.filter((k) => SOURCE_ARRIVAL[k] === 'pushed');
export const isPushed = (kind: SourceKind): boolean => SOURCE_ARRIVAL[kind] === 'pushed';

/** Ends a switch over a union: a new member makes the call a compile error, and an impossible value at run time throws. */
export function assertNever(value: never, what = 'kind'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
