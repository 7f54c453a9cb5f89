import { describe, expect, it } from 'vitest';
import { compileRouting } from '../../domain/pipelines.js';
import { extractText, looksBinary, textFormatOf } from '../../domain/text-extract.js';

describe('rule routing', () => {
  const route = compileRouting(
    [
      { id: 'r-md', pipelineIds: ['text'], match: { includePatterns: ['*.md'] } },
      { id: 'r-src', pipelineIds: ['hook', 'text'], match: { sourceIds: ['s1'], excludePatterns: ['tmp/**'] } },
      { id: 'r-csv', pipelineIds: ['hook', 'disabled'], match: { mimeTypes: ['text/csv'] } },
    ],
    new Set(['text', 'hook']),
  );

  it('unions the pipelines of every matching rule, once each, skipping disabled ones', () => {
    expect(route({ sourceId: 's1', lakeKey: 'docs/a.md' })).toEqual(['hook', 'text']);
    expect(route({ sourceId: 's2', lakeKey: 'docs/a.md' })).toEqual(['text']);
    expect(route({ sourceId: 's2', lakeKey: 'data/t.csv' })).toEqual(['hook']);
    expect(route({ sourceId: 's1', lakeKey: 'tmp/x.bin' })).toEqual([]);
    expect(route({ sourceId: 's2', lakeKey: 'x.bin' })).toEqual([]);
  });

  it('scopes to one rule when asked', () => {
    expect(route({ sourceId: 's1', lakeKey: 'docs/a.md' }, 'r-md')).toEqual(['text']);
    expect(route({ sourceId: 's1', lakeKey: 'data/t.csv' }, 'r-md')).toEqual([]);
  });
});

describe('text extraction', () => {
  it('knows text-like objects by extension first, then content type', () => {
    expect(textFormatOf('a/readme.MD', 'application/octet-stream')).toBe('markdown');
    expect(textFormatOf('page', 'text/html; charset=utf-8')).toBe('html');
    expect(textFormatOf('x.yaml', 'text/yaml')).toBe('plain');
    expect(textFormatOf('photo.png', 'image/png')).toBeNull();
    expect(textFormatOf('blob', undefined)).toBeNull();
  });

  it('turns HTML, JSON and Markdown into their words', () => {
    const html = extractText(
      Buffer.from('<html><head><title>T</title></head><body><h1>Herons</h1><p>wade <a href="http://x">here</a></p><img src="i.png"></body></html>'),
      'html',
    );
    expect(html).toContain('HERONS');
    expect(html).toContain('wade here');
    expect(html).not.toContain('http://x');
    expect(extractText(Buffer.from('{"title":"Egret","tags":["white","tall"],"n":3}'), 'json').split('\n')).toEqual([
      'title',
      'Egret',
      'tags',
      'white',
      'tall',
      'n',
      '3',
    ]);
    expect(extractText(Buffer.from('{"cut": "off'), 'json')).toBe('{"cut": "off');
    expect(extractText(Buffer.from('# Title\n\nSome **bold** and [a link](http://x).\n- item'), 'markdown')).toBe('Title\n\nSome bold and a link.\nitem');
  });

  it('calls content with NUL bytes binary', () => {
    expect(looksBinary(Buffer.from('plain text'))).toBe(false);
    expect(looksBinary(Buffer.from([0x50, 0x4b, 0x00, 0x01]))).toBe(true);
  });
});
