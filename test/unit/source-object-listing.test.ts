import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../api/routes/source-objects.js';
import { OBJECT_STATUSES, SOURCE_OBJECT_STATUS, SOURCE_OBJECT_STATUSES, objectStatusNamed } from '../../domain/statuses.js';

describe('source object listing', () => {
  it('bounds a prefix by raising its last code point', () => {
    expect(prefixEnd('')).toBeNull();
    expect(prefixEnd('a/')).toBe('a0');
    expect(prefixEnd('docs/é')).toBe('docs/ê');
    // Astral characters are one code point, not two UTF-16 units.
    expect(prefixEnd('x😀')).toBe('x😁');
    // No character between U+D7FF and U+E000.
    expect(prefixEnd('a\uD7FF')).toBe('a\uE000');
    // Nothing follows U+10FFFF: the character before it is raised, or the range is open.
    expect(prefixEnd('ab\u{10FFFF}\u{10FFFF}')).toBe('ac');
    expect(prefixEnd('\u{10FFFF}')).toBeNull();
  });

  it('names every stored status once, in K3 enum style, and maps each name back', () => {
    expect(SOURCE_OBJECT_STATUSES).toEqual([
      'SOURCE_OBJECT_STATUS_OWED',
      'SOURCE_OBJECT_STATUS_INGESTED',
      'SOURCE_OBJECT_STATUS_DEAD_LETTERED',
      'SOURCE_OBJECT_STATUS_DELETED',
      'SOURCE_OBJECT_STATUS_FILTERED',
    ]);
    for (const s of OBJECT_STATUSES) expect(objectStatusNamed(SOURCE_OBJECT_STATUS[s])).toBe(s);
  });
});
