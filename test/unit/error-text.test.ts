/** The one module that turns errors into text: what each reader gets. */
import { describe, expect, it } from 'vitest';
import { errorDetail, errorMessage, safeErrorText, storedErrorText } from '../../domain/error-text.js';

describe('error text', () => {
  it('errorMessage: the message of an Error, anything else as a string', () => {
    expect(errorMessage(new TypeError('bad input'))).toBe('bad input');
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  it('safeErrorText: name and message, with the bound parameters of a failed query cut out', () => {
    const err = new Error('Failed query: select * from sources where id = $1\nparams: src_secret_value');
    const text = safeErrorText(err);
    expect(text).toBe('Error: Failed query: select * from sources where id = $1\nparams: [redacted]');
    expect(text).not.toContain('src_secret_value');
    expect(safeErrorText('not an error')).toBe('not an error');
  });

  it('storedErrorText: the safe text, at most 1000 characters', () => {
    expect(storedErrorText(new RangeError('short'))).toBe('RangeError: short');
    const long = storedErrorText(new Error('x'.repeat(5000)));
    expect(long).toHaveLength(1000);
    expect(long.startsWith('Error: xxx')).toBe(true);
  });

  it('errorDetail: the cause chain with codes, five deep, at most 1000 characters', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const err = new TypeError('fetch failed', { cause: root });
    expect(errorDetail(err)).toBe('TypeError: fetch failed <- Error (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:9');
    let deep: Error = new Error('level 0');
    for (let i = 1; i < 8; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(errorDetail(deep).split(' <- ')).toEqual(['Error: level 7', 'Error: level 6', 'Error: level 5', 'Error: level 4', 'Error: level 3']);
    expect(errorDetail(new Error('y'.repeat(3000)))).toHaveLength(1000);
    expect(errorDetail('a string')).toBe('Error: a string');
  });
});
