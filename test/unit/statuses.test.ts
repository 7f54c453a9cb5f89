import { describe, expect, it } from 'vitest';
import {
  JOB_STATUS,
  JOB_STATUSES,
  OBJECT_STATUS,
  OBJECT_STATUSES,
  RUN_STATUS,
  RUN_STATUSES,
  SOURCE_STATUS,
  SOURCE_STATUSES,
  TERMINAL_JOB_STATUSES,
  isSettledRun,
} from '../../domain/statuses.js';

describe('domain/statuses', () => {
  it('lists every value of each map, in order', () => {
    expect(OBJECT_STATUSES).toEqual(['pending', 'ingested', 'dead', 'deleted', 'filtered']);
    expect(RUN_STATUSES).toEqual(['pending', 'processing', 'indexed', 'failed', 'skipped']);
    expect(JOB_STATUSES).toEqual(Object.values(JOB_STATUS));
    expect(JOB_STATUSES).toHaveLength(6);
    expect(SOURCE_STATUSES).toEqual(Object.values(SOURCE_STATUS));
    expect(SOURCE_STATUSES).toHaveLength(4);
    expect(OBJECT_STATUS.dead).toBe('dead');
    expect(RUN_STATUS.skipped).toBe('skipped');
  });

  it('calls a job terminal once it has ended', () => {
    expect([...TERMINAL_JOB_STATUSES].sort()).toEqual(['JOB_STATUS_CANCELED', 'JOB_STATUS_FAILED', 'JOB_STATUS_PARTIAL', 'JOB_STATUS_SUCCEEDED']);
  });

  it('settles a pipeline run that indexed or skipped, and nothing else', () => {
    expect(RUN_STATUSES.filter(isSettledRun)).toEqual(['indexed', 'skipped']);
    expect(isSettledRun(undefined)).toBe(false);
    expect(isSettledRun(null)).toBe(false);
  });
});
