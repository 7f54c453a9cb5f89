import { describe, expect, it } from 'vitest';
import { JOB_STATUS, OBJECT_STATUS, RUN_STATUS, SOURCE_STATUS, sqlLiterals, type ObjectStatus } from '../../catalog/status.js';

describe('catalog statuses', () => {
  it('names each status after itself, or after its JOB_STATUS_ suffix', () => {
    for (const map of [OBJECT_STATUS, RUN_STATUS]) for (const [name, value] of Object.entries(map)) expect(value).toBe(name);
    for (const [name, value] of Object.entries(JOB_STATUS)) expect(value).toBe(`JOB_STATUS_${name.toUpperCase()}`);
    for (const [name, value] of Object.entries(SOURCE_STATUS)) expect(value).toBe(`SOURCE_STATUS_${name.toUpperCase()}`);
    expect(Object.keys(OBJECT_STATUS).sort()).toEqual(['dead', 'deleted', 'filtered', 'ingested', 'pending']);
  });

  it('writes statuses as quoted SQL literals', () => {
    expect(sqlLiterals([OBJECT_STATUS.ingested])).toBe("'ingested'");
    expect(sqlLiterals([OBJECT_STATUS.deleted, OBJECT_STATUS.filtered])).toBe("'deleted', 'filtered'");
    expect(sqlLiterals([JOB_STATUS.succeeded, JOB_STATUS.partial])).toBe("'JOB_STATUS_SUCCEEDED', 'JOB_STATUS_PARTIAL'");
  });

  it('refuses anything but a plain status name, and an empty list', () => {
    expect(() => sqlLiterals(["ingested') or ('1" as ObjectStatus])).toThrow(/not a status name/);
    expect(() => sqlLiterals(['' as ObjectStatus])).toThrow(/not a status name/);
    expect(() => sqlLiterals([])).toThrow(/no status/);
  });
});
