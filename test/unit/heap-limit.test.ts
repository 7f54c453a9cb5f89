import { describe, expect, it } from 'vitest';
import { heapLimitWarning } from '../../workers/heap-limit.js';

describe('heapLimitWarning', () => {
  it('warns below a 512 MB heap limit and names the flag', () => {
    expect(heapLimitWarning(384 * 2 ** 20)).toMatch(/384 MB is below 512 MB.*--max-old-space-size/);
    expect(heapLimitWarning(511 * 2 ** 20)).toContain('511 MB');
  });

  it('is quiet at 512 MB and above', () => {
    expect(heapLimitWarning(512 * 2 ** 20)).toBeUndefined();
    expect(heapLimitWarning(4288 * 2 ** 20)).toBeUndefined();
  });
});
