/** Whatever the API holds, the CLI's human output never carries a control character to the terminal; --json stays exact. */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Ctx } from '../../cli/context.js';
import { ApiRequestError, CliFailure } from '../../cli/errors.js';
import { inert, renderError, renderFields, renderTable } from '../../cli/output.js';
import { bucketTable, jobFields, sourceFields } from '../../cli/views.js';
import type { ApiClient } from '../../cli/client.js';
import type { Job, Source } from '../../cli/api-types.js';

// ESC sequences (colour, clear screen, OSC title), CSI as one C1 byte, BEL, backspace, CR, NEL, DEL, newline, an unpaired surrogate.
const HOSTILE = 'a\x1b[31mred\x1b[2J\x1b]0;title\x07\x9b1mB\x08\x08\rover\x85\x7f\nfake: line\uD800';
const CONTROL = /[\p{Cc}\p{Cs}]/u;
/** Human output may hold newlines between its own lines, nothing else. */
const controlsBesidesNewlines = (s: string) => s.replace(/\n/g, '').match(/[\p{Cc}\p{Cs}]/gu) ?? [];

describe('CLI output with hostile values', () => {
  it('inert writes every control out visibly and leaves ordinary text alone', () => {
    expect(inert(HOSTILE)).not.toMatch(CONTROL);
    expect(inert('\x1b[31m')).toBe('\\u{1b}[31m');
    expect(inert('\x9b')).toBe('\\u{9b}');
    expect(inert('plain Ünïcödé 😀')).toBe('plain Ünïcödé 😀');
  });

  it('tables and fields carry no control characters and no forged lines', () => {
    const table = renderTable([{ v: HOSTILE }], [{ header: 'v', value: (r) => r.v }]);
    expect(controlsBesidesNewlines(table)).toEqual([]);
    expect(table.split('\n')).toHaveLength(3);
    const fields = renderFields([
      ['name', HOSTILE],
      ['id', 'x'],
    ]);
    expect(controlsBesidesNewlines(fields)).toEqual([]);
    expect(fields.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('every view of a resource is inert', () => {
    const source = {
      sourceId: 'src_1',
      bucket: 'kb',
      name: HOSTILE,
      kind: 's3',
      s3: { bucket: 'b', prefix: HOSTILE, endpoint: HOSTILE, credentialsSet: true },
      status: 'SOURCE_STATUS_PAUSED',
      paused: true,
      pauseReason: HOSTILE,
      syncMode: 'continuous',
      syncIntervalSeconds: 60,
      batchSize: 10,
      targetPrefix: HOSTILE,
      workflowId: 'w',
      consecutiveFailures: 0,
      lastError: HOSTILE,
      totalObjectsDiscovered: 0,
      totalObjectsSynced: 0,
      totalObjectsFailed: 0,
      totalBytesSynced: 0,
    } as unknown as Source;
    const job = {
      jobId: 'job_1',
      sourceId: 'src_1',
      kind: 'discovery',
      trigger: 'api',
      status: 'JOB_STATUS_FAILED',
      error: HOSTILE,
      failedObjects: [{ sourceObjectId: 'o', key: HOSTILE, attempts: 3, error: HOSTILE }],
    } as unknown as Job;
    for (const out of [sourceFields(source), jobFields(job), bucketTable([{ name: HOSTILE, bucketId: HOSTILE, createdAt: HOSTILE } as never])]) {
      expect(controlsBesidesNewlines(out)).toEqual([]);
      expect(out).not.toContain('\nfake: line');
    }
  });

  it("the API's errors and the CLI's own failures print inertly; --json keeps the body exact", () => {
    const err = new ApiRequestError(404, { code: 'NOT_FOUND', message: `bucket ${HOSTILE} not found`, details: [{ field: HOSTILE, problem: HOSTILE }] });
    expect(controlsBesidesNewlines(renderError(err, false))).toEqual([]);
    expect(JSON.parse(renderError(err, true))).toEqual(err.body);
    const own = renderError(new CliFailure(`job ended: ${HOSTILE}`), false);
    expect(controlsBesidesNewlines(own)).toEqual([]);
    expect(own.split('\n')).toHaveLength(2);
  });

  it('Ctx.show and Ctx.done are inert in human mode and exact in --json mode', () => {
    const written: string[] = [];
    const io = { stdout: { write: (s: string) => written.push(s) }, stderr: { write: () => undefined }, env: {}, cwd: tmpdir() };
    const human = new Ctx(null as unknown as ApiClient, false, io);
    human.show({ name: HOSTILE }, () => `created ${HOSTILE}\n`);
    human.done(`deleted ${HOSTILE}`);
    for (const out of written) expect(controlsBesidesNewlines(out)).toEqual([]);
    written.length = 0;
    new Ctx(null as unknown as ApiClient, true, io).show({ name: HOSTILE }, () => 'unused');
    expect(JSON.parse(written[0]!)).toEqual({ name: HOSTILE });
  });
});
