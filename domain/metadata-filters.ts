/**
 * Mixpeek's `file_filters.metadata_filters`: `{ field, operator, value }`
 * rules over what a HEAD of the object tells (its Content-Type and its S3
 * user metadata), all of which must hold. The operators are the ones
 * Mixpeek's sync documentation lists.
 */
import { z } from 'zod';
import { assertNever } from './kinds.js';
import { text } from './text.js';

export const METADATA_OPERATORS = ['equals', 'not_equals', 'contains', 'not_contains', 'gt', 'gte', 'lt', 'lte', 'exists'] as const;
export type MetadataOperator = (typeof METADATA_OPERATORS)[number];

/** `contentType`, or `metadata.<key>` for the user metadata S3 sends as `x-amz-meta-<key>` (keys compare case-insensitively). */
const Field = text()
  .min(1)
  .max(256)
  .regex(/^(contentType|metadata\.[^\s]+)$/, 'must be "contentType" or "metadata.<key>" (an S3 user-metadata key)');

const Value = z.union([text('multiline').max(1024), z.number().finite(), z.boolean()]);

export const MetadataFilterSchema = z
  .object({ field: Field, operator: z.enum(METADATA_OPERATORS), value: Value.optional() })
  .strict()
  .superRefine((f, ctx) => {
    const problem = valueProblem(f.operator, f.value);
    if (problem) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  });
export type MetadataFilter = z.infer<typeof MetadataFilterSchema>;

function valueProblem(op: MetadataOperator, value: MetadataFilter['value']): string | null {
  switch (op) {
    case 'equals':
    case 'not_equals':
      return value === undefined ? `is required with ${op}` : null;
    case 'contains':
    case 'not_contains':
      return typeof value === 'string' && value.length > 0 ? null : `must be a non-empty string with ${op}`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value === 'number' ? null : `must be a number with ${op}`;
    case 'exists':
      return value === undefined || typeof value === 'boolean' ? null : 'must be true or false (or absent, meaning true) with exists';
    default:
      return assertNever(op, 'metadata filter operator');
  }
}

/** What the rules look at: the object's Content-Type and its user metadata, keys lower-cased. */
export interface ObjectHead {
  contentType: string | null;
  metadata: Record<string, string>;
}

/** The rules as one predicate; an empty list matches everything. */
export function compileMetadataFilters(rules: readonly MetadataFilter[]): (head: ObjectHead) => boolean {
  return (head) => rules.every((r) => holds(r, read(head, r.field)));
}

function read(head: ObjectHead, field: string): string | undefined {
  if (field === 'contentType') return head.contentType ?? undefined;
  const key = field.slice('metadata.'.length).toLowerCase();
  // Own keys only: `metadata.constructor` must not find Object.prototype's.
  const value: unknown = Object.hasOwn(head.metadata, key) ? head.metadata[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * One rule against one value (undefined when the object has no such field).
 * A missing field fails every rule but `not_equals`, `not_contains` and
 * `exists: false`; an order comparison needs the value to read as a number.
 */
function holds(r: MetadataFilter, actual: string | undefined): boolean {
  switch (r.operator) {
    case 'exists':
      return (actual !== undefined) === (r.value ?? true);
    case 'equals':
      return actual !== undefined && actual === String(r.value);
    case 'not_equals':
      return actual === undefined || actual !== String(r.value);
    case 'contains':
      return actual !== undefined && actual.includes(String(r.value));
    case 'not_contains':
      return actual === undefined || !actual.includes(String(r.value));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return compare(r.operator, actual, r.value as number);
    default:
      return assertNever(r.operator, 'metadata filter operator');
  }
}

function compare(op: 'gt' | 'gte' | 'lt' | 'lte', actual: string | undefined, bound: number): boolean {
  if (actual === undefined || actual.trim() === '') return false;
  const n = Number(actual);
  if (!Number.isFinite(n)) return false;
  switch (op) {
    case 'gt':
      return n > bound;
    case 'gte':
      return n >= bound;
    case 'lt':
      return n < bound;
    case 'lte':
      return n <= bound;
    default:
      return assertNever(op, 'metadata filter operator');
  }
}
