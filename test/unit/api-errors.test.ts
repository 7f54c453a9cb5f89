/** The error bodies several routes share are built in one place, and read as they always have. */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';

describe('ApiError.nameTaken', () => {
  it('is a 409 naming the kind, the name and the bucket, with the field', () => {
    for (const kind of ['source', 'pipeline', 'rule'] as const) {
      const err = ApiError.nameTaken(kind, 'docs', 'kb');
      expect(err.status).toBe(409);
      expect({ code: err.code, message: err.message, details: err.details }).toEqual({
        code: 'ALREADY_EXISTS',
        message: `name: a ${kind} named docs already exists in bucket kb`,
        details: [{ field: 'name', problem: 'is already taken in this bucket' }],
      });
    }
  });
});
