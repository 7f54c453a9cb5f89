import { describe, expect, it } from 'vitest';
import { heapLimitWarning, oldSpaceCap } from '../../workers/heap-limit.js';

describe('worker heap cap', () => {
  it('reads --max-old-space-size from NODE_OPTIONS and the command line, which wins', () => {
    expect(oldSpaceCap(['--enable-source-maps'], '')).toBeUndefined();
    expect(oldSpaceCap(['--max-old-space-size=256'], '')).toBe(256);
    expect(oldSpaceCap([], '--max-semi-space-size=16 --max_old_space_size=192')).toBe(192);
    expect(oldSpaceCap(['--max-old-space-size=200'], '--max-old-space-size=500')).toBe(200);
    expect(oldSpaceCap(['--max-old-space-size', '384'], '')).toBe(384);
  });

  it('warns below 320 MB and names the flag, and is quiet at 320 and above or uncapped', () => {
    expect(heapLimitWarning(192)).toMatch(/--max-old-space-size=192 is below 320/);
    expect(heapLimitWarning(320)).toBeUndefined();
    expect(heapLimitWarning(undefined)).toBeUndefined();
  });
});
