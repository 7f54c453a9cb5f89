import { describe, expect, it } from 'vitest';
import { compileMetadataFilters, MetadataFilterSchema, type MetadataFilter, type ObjectHead } from '../../domain/metadata-filters.js';

const head: ObjectHead = { contentType: 'text/plain; charset=utf-8', metadata: { classification: 'public', pages: '12', empty: '' } };
const holds = (rule: MetadataFilter, h: ObjectHead = head) => compileMetadataFilters([rule])(h);

describe("Mixpeek's metadata filters", () => {
  it('compares user metadata (keys case-insensitively) and the Content-Type', () => {
    expect(holds({ field: 'metadata.classification', operator: 'equals', value: 'public' })).toBe(true);
    expect(holds({ field: 'metadata.Classification', operator: 'equals', value: 'public' })).toBe(true);
    expect(holds({ field: 'metadata.classification', operator: 'equals', value: 'Public' })).toBe(false);
    expect(holds({ field: 'metadata.classification', operator: 'not_equals', value: 'secret' })).toBe(true);
    expect(holds({ field: 'contentType', operator: 'contains', value: 'text/' })).toBe(true);
    expect(holds({ field: 'contentType', operator: 'not_contains', value: 'json' })).toBe(true);
    expect(holds({ field: 'metadata.pages', operator: 'equals', value: 12 })).toBe(true);
  });

  it('orders numbers only: a value that does not read as one fails the rule', () => {
    expect(holds({ field: 'metadata.pages', operator: 'gt', value: 10 })).toBe(true);
    expect(holds({ field: 'metadata.pages', operator: 'gte', value: 12 })).toBe(true);
    expect(holds({ field: 'metadata.pages', operator: 'lt', value: 12 })).toBe(false);
    expect(holds({ field: 'metadata.pages', operator: 'lte', value: 12 })).toBe(true);
    expect(holds({ field: 'metadata.classification', operator: 'lt', value: 1e9 })).toBe(false);
    expect(holds({ field: 'metadata.empty', operator: 'lte', value: 0 })).toBe(false);
  });

  it('fails a missing field but for not_equals, not_contains and exists: false', () => {
    const none = { field: 'metadata.owner' } as const;
    expect(holds({ ...none, operator: 'equals', value: 'x' })).toBe(false);
    expect(holds({ ...none, operator: 'contains', value: 'x' })).toBe(false);
    expect(holds({ ...none, operator: 'gt', value: 0 })).toBe(false);
    expect(holds({ ...none, operator: 'not_equals', value: 'x' })).toBe(true);
    expect(holds({ ...none, operator: 'not_contains', value: 'x' })).toBe(true);
    expect(holds({ ...none, operator: 'exists' })).toBe(false);
    expect(holds({ ...none, operator: 'exists', value: false })).toBe(true);
    expect(holds({ field: 'metadata.empty', operator: 'exists' })).toBe(true);
    expect(holds({ field: 'contentType', operator: 'exists' }, { contentType: null, metadata: {} })).toBe(false);
  });

  it("reads the object's own metadata keys only, never Object.prototype's", () => {
    for (const field of ['metadata.constructor', 'metadata.tostring', 'metadata.__proto__', 'metadata.hasownproperty'] as const) {
      expect(holds({ field, operator: 'exists' }), field).toBe(false);
      expect(holds({ field, operator: 'contains', value: 'x' }), field).toBe(false);
      expect(holds({ field, operator: 'not_contains', value: 'x' }), field).toBe(true);
    }
    expect(holds({ field: 'metadata.constructor', operator: 'equals', value: 'x' }, { contentType: null, metadata: { constructor: 'x' } })).toBe(true);
  });

  it('needs every rule to hold; none matches everything', () => {
    const a = { field: 'metadata.classification', operator: 'equals', value: 'public' } as const;
    const b = { field: 'metadata.pages', operator: 'lt', value: 5 } as const;
    expect(compileMetadataFilters([a, b])(head)).toBe(false);
    expect(compileMetadataFilters([a])(head)).toBe(true);
    expect(compileMetadataFilters([])({ contentType: null, metadata: {} })).toBe(true);
  });

  it('refuses rules whose value does not fit the operator, naming the value', () => {
    const problem = (rule: unknown) => MetadataFilterSchema.safeParse(rule).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(problem({ field: 'metadata.pages', operator: 'gt', value: '10' })).toEqual(['value: must be a number with gt']);
    expect(problem({ field: 'metadata.a', operator: 'contains', value: '' })).toEqual(['value: must be a non-empty string with contains']);
    expect(problem({ field: 'metadata.a', operator: 'equals' })).toEqual(['value: is required with equals']);
    expect(problem({ field: 'metadata.a', operator: 'exists', value: 'yes' })?.[0]).toMatch(/^value: must be true or false/);
    expect(problem({ field: 'owner', operator: 'exists' })?.[0]).toMatch(/^field: must be "contentType" or "metadata.<key>"/);
    expect(problem({ field: 'metadata.a', operator: 'in', value: 'x' })?.[0]).toMatch(/^operator:/);
    expect(problem({ field: 'metadata.a', operator: 'exists' })).toBeUndefined();
  });
});
