/** The edge's text rules, the route table the guard and authentication share, and the scope a path needs. */
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isBytePlaneRead, matchOperation, requiredScope, ROUTES as OPERATIONS } from '../../api/route-table.js';
import { escapeControl, text, textProblem, unstorableIn } from '../../domain/text.js';

describe('text classes', () => {
  it('a line refuses every C0, DEL and C1 control and unpaired surrogates, and names the character without echoing the value', () => {
    for (const c of ['\0', '\x01', '\t', '\n', '\r', '\x1b', '\x7f', '\x85', '\x9b', '\uD800', '\uDFFF']) {
      const problem = textProblem(`secret${c}x`);
      expect(problem, JSON.stringify(c)).toMatch(/at character 6\)$/);
      expect(problem).not.toContain('secret');
    }
    expect(textProblem('a\0b')).toBe('must not contain control characters (U+0000 NUL at character 1)');
    expect(textProblem('x\uD800')).toBe('must be valid Unicode (unpaired surrogate U+D800 at character 1)');
  });

  it('accepts ordinary Unicode, including paired surrogates and format characters', () => {
    for (const ok of ['plain', 'Ünïcödé ñame', '日本語', 'emoji 😀 ok', 'a\u200db', '', 'spaces and - _ . : /']) expect(textProblem(ok), ok).toBeNull();
  });

  it('multiline free text may hold tab and newline, never NUL, other controls or unpaired surrogates', () => {
    expect(textProblem('line one\n\tline two', 'multiline')).toBeNull();
    expect(textProblem('maint\0x', 'multiline')).toMatch(/U\+0000/);
    expect(textProblem('a\rb', 'multiline')).toMatch(/U\+000D/);
    expect(textProblem('bell\x07', 'multiline')).toMatch(/U\+0007/);
    expect(textProblem('csi\x9b31m', 'multiline')).toMatch(/U\+009B/);
    expect(textProblem('half \uDBFF', 'multiline')).toMatch(/unpaired surrogate U\+DBFF/);
  });

  it('text() chains like z.string() and reports the field path', () => {
    const schema = z.object({ name: text().trim().min(1).max(5), reason: text('multiline').optional() });
    expect(schema.parse({ name: ' ok ', reason: 'a\nb' })).toEqual({ name: 'ok', reason: 'a\nb' });
    const bad = schema.safeParse({ name: 'a\0', reason: 'ok' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues).toMatchObject([{ path: ['name'], message: 'must not contain control characters (U+0000 NUL at character 1)' }]);
    expect(schema.safeParse({ name: 'toolong' }).success).toBe(false);
  });

  it('finds NUL or an unpaired surrogate anywhere in a JSON body, keys included, with its path', () => {
    expect(unstorableIn({ a: { b: ['x', 'y\0'] } })).toEqual({ field: 'a.b.1', problem: 'must not contain control characters (U+0000 NUL at character 1)' });
    expect(unstorableIn({ 'k\0': 1 })?.field).toBe('k\\u{0}');
    expect(unstorableIn({ s: '\uDC00' })?.field).toBe('s');
    // Other controls are each field's own schema's business.
    expect(unstorableIn({ a: 'tab\there', n: 1, t: true, z: null })).toBeNull();
  });

  it('escapes controls and unpaired surrogates inertly', () => {
    expect(escapeControl('\x1b[31mred\x07\x9b\uD800 ok 😀')).toBe('\\u{1b}[31mred\\u{7}\\u{9b}\\u{d800} ok 😀');
  });
});

describe('route table', () => {
  it('picks the route Express would, with the byte plane last', () => {
    expect(matchOperation('GET', '/kb/sources/src_1')).toMatchObject({
      op: { path: '/{bucket}/sources/{sourceId}' },
      params: { bucket: 'kb', sourceId: 'src_1' },
    });
    expect(matchOperation('GET', '/kb/objects/a%2Fb/info')?.params).toEqual({ bucket: 'kb', key: 'a%2Fb' });
    expect(matchOperation('GET', '/kb/deep/key/x.txt')).toMatchObject({
      op: { path: '/{bucket}/{key}', method: 'get' },
      params: { bucket: 'kb', key: 'deep/key/x.txt' },
    });
    // No GET route has this shape but the byte plane's.
    expect(matchOperation('GET', '/kb/uploads/sync_1/files')?.op.path).toBe('/{bucket}/{key}');
    expect(matchOperation('POST', '/kb/uploads/sync_1/files')?.op.path).toBe('/{bucket}/uploads/{syncId}/files');
    // Express's defaults: case-insensitive, trailing slash allowed; HEAD served by GET routes.
    expect(matchOperation('GET', '/ADMIN/Buckets/')?.op.path).toBe('/admin/buckets');
    expect(matchOperation('HEAD', '/kb/jobs')?.op.path).toBe('/{bucket}/jobs');
    expect(matchOperation('GET', '/')).toBeNull();
  });

  it('lets a signed URL stand in for a token only on byte-plane reads', () => {
    expect(isBytePlaneRead('GET', '/kb/a/b.txt')).toBe(true);
    expect(isBytePlaneRead('HEAD', '/kb/a.txt')).toBe(true);
    for (const [m, p] of [
      ['GET', '/kb/jobs'],
      ['GET', '/kb/objects'],
      ['HEAD', '/kb/sources'],
      ['GET', '/admin/buckets'],
      ['DELETE', '/kb/a.txt'],
      ['PUT', '/kb/a.txt'],
    ])
      expect(isBytePlaneRead(m!, p!), `${m} ${p}`).toBe(false);
  });

  it('covers every operation of the OpenAPI table', () => {
    for (const op of OPERATIONS) {
      const path = op.path.replace(/\{(\w+)\}/g, (_, n: string) => `${n}-1`);
      // HEAD is served by the first GET route of the same path, as in Express.
      expect(matchOperation(op.method, path)?.op.path, `${op.method} ${op.path}`).toBe(op.path);
    }
  });
});

describe('required scope', () => {
  const req = (method: string, path: string) => ({ method, path }) as Request;
  it('is admin on every spelling of /admin that Express routes there', () => {
    for (const p of ['/admin/buckets', '/ADMIN/buckets', '/Admin/Buckets/', '/admin']) expect(requiredScope(req('GET', p)), p).toBe('admin');
    expect(requiredScope(req('POST', '/kb/SEARCH/'))).toBe('read');
    expect(requiredScope(req('GET', '/administrator/x'))).toBe('read');
  });
});
