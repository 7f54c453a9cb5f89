/** The CLI's own logic: where its settings come from and how it prints. The e2e test drives it against a real API. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../cli/config.js';
import { bucketAndArgs } from '../../cli/context.js';
import { ApiRequestError, UsageError } from '../../cli/errors.js';
import { formatBytes, fromMillis, renderError, renderFields, renderTable } from '../../cli/output.js';
import { run } from '../../cli/program.js';
import { readSourceFile } from '../../cli/source-file.js';

describe('config resolution', () => {
  let withToken: string;
  let empty: string;
  beforeAll(async () => {
    withToken = await mkdtemp(join(tmpdir(), 'lakesync-cli-cfg-'));
    await mkdir(join(withToken, '.lakesync'));
    await writeFile(join(withToken, '.lakesync', 'dev-token'), 'file-token\n');
    empty = await mkdtemp(join(tmpdir(), 'lakesync-cli-cfg-'));
  });
  afterAll(async () => {
    await rm(withToken, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  });

  it('defaults to the dev URL and the dev token file', async () => {
    expect(await resolveConfig({}, {}, withToken)).toEqual({ url: 'http://127.0.0.1:8080', token: 'file-token' });
    expect(await resolveConfig({}, {}, empty)).toEqual({ url: 'http://127.0.0.1:8080', token: undefined });
  });

  it('prefers flags over the environment over the defaults', async () => {
    const env = { LAKESYNC_URL: 'https://lake.example.test/api/', LAKESYNC_TOKEN: 'env-token' };
    expect(await resolveConfig({}, env, withToken)).toEqual({ url: 'https://lake.example.test/api', token: 'env-token' });
    expect(await resolveConfig({ url: 'http://lakesync.internal.test:8080', token: 'flag-token' }, env, withToken)).toEqual({
      url: 'http://lakesync.internal.test:8080',
      token: 'flag-token',
    });
    // An empty variable is as good as unset.
    expect(await resolveConfig({}, { LAKESYNC_URL: '', LAKESYNC_TOKEN: '' }, withToken)).toEqual({ url: 'http://127.0.0.1:8080', token: 'file-token' });
  });

  it('refuses a URL that is not http(s) as a usage error', async () => {
    await expect(resolveConfig({ url: 'not a url' }, {}, empty)).rejects.toThrow(UsageError);
    await expect(resolveConfig({}, { LAKESYNC_URL: 'ftp://host' }, empty)).rejects.toThrow('must be an http or https URL');
  });
});

describe('bucket as --bucket or first argument', () => {
  it('takes either form', () => {
    expect(bucketAndArgs(['kb', 'src_1'], undefined, ['sourceId'])).toEqual({ bucket: 'kb', rest: ['src_1'] });
    expect(bucketAndArgs(['src_1'], 'kb', ['sourceId'])).toEqual({ bucket: 'kb', rest: ['src_1'] });
    expect(bucketAndArgs([], 'kb', [])).toEqual({ bucket: 'kb', rest: [] });
  });
  it('names what is missing or extra', () => {
    expect(() => bucketAndArgs([], undefined, ['sourceId'])).toThrow(
      'missing required arguments: <bucket> <sourceId> (the bucket may also be given as --bucket)',
    );
    expect(() => bucketAndArgs(['kb'], undefined, ['sourceId'])).toThrow('missing required argument: <sourceId>');
    expect(() => bucketAndArgs(['kb', 'a', 'b'], undefined, ['sourceId'])).toThrow('too many arguments');
    expect(() => bucketAndArgs(['kb', 'a'], 'kb', ['sourceId'])).toThrow('too many arguments');
  });
});

describe('output', () => {
  it('aligns tables and cuts long cells', () => {
    const out = renderTable(
      [
        { a: 'x', b: 'short' },
        { a: 'longer', b: 'a'.repeat(20) },
      ],
      [
        { header: 'a', value: (r) => r.a },
        { header: 'b', value: (r) => r.b, max: 10 },
      ],
    );
    expect(out).toBe('A       B\nx       short\nlonger  aaaaaaaaa…\n');
  });

  it('aligns fields and leaves out undefined ones', () => {
    expect(
      renderFields([
        ['id', 'x'],
        ['skipped', undefined],
        ['longer label', 'y'],
      ]),
    ).toBe('id:           x\nlonger label: y\n');
  });

  it('shows K3 millisecond strings as ISO time and sizes in binary units', () => {
    expect(fromMillis('1795408183294')).toBe('2026-11-23T04:29:43.294Z');
    expect(fromMillis(null)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024 * 1024 + 1)).toBe('3.0 MiB');
  });

  it("prints the API's error: message and extra details, or its JSON as it came", () => {
    const err = new ApiRequestError(400, {
      code: 'INVALID_ARGUMENT',
      message: 'name: must not be empty',
      details: [
        { field: 'name', problem: 'must not be empty' },
        { field: 'kind', problem: 'is required' },
      ],
    });
    expect(renderError(err, false)).toBe('error: name: must not be empty (INVALID_ARGUMENT, HTTP 400)\n  kind: is required\n');
    expect(JSON.parse(renderError(err, true))).toEqual(err.body);
  });
});

describe('source files', () => {
  let dir: string;
  beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'lakesync-cli-file-'))));
  afterAll(async () => void (await rm(dir, { recursive: true, force: true })));

  it('reads YAML and JSON into the request body, and stdin with -', async () => {
    await writeFile(join(dir, 's.yaml'), 'name: a\nkind: filesystem\nfilesystem: { path: /tmp/x }\nfileFilters:\n  modifiedAfter: 2024-01-01T00:00:00Z\n');
    // YAML 1.2 core schema: a timestamp stays the string the API validates.
    expect(await readSourceFile(join(dir, 's.yaml'))).toEqual({
      name: 'a',
      kind: 'filesystem',
      filesystem: { path: '/tmp/x' },
      fileFilters: { modifiedAfter: '2024-01-01T00:00:00Z' },
    });
    await writeFile(join(dir, 's.json'), '{"name":"b","syncIntervalSeconds":60}');
    expect(await readSourceFile(join(dir, 's.json'))).toEqual({ name: 'b', syncIntervalSeconds: 60 });
    expect(await readSourceFile('-', async () => 'name: c\n')).toEqual({ name: 'c' });
  });

  it('refuses what is not a mapping as a usage error', async () => {
    await writeFile(join(dir, 'bad.json'), '{"name":');
    await expect(readSourceFile(join(dir, 'bad.json'))).rejects.toThrow(/is not valid JSON/);
    await writeFile(join(dir, 'scalar.yaml'), 'just a string\n');
    await expect(readSourceFile(join(dir, 'scalar.yaml'))).rejects.toThrow(/must be a mapping/);
    await expect(readSourceFile(join(dir, 'nope.yaml'))).rejects.toThrow(/cannot read it: ENOENT/);
  });
});

describe('exit codes', () => {
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, env: {}, cwd: tmpdir() } };
  };

  it('0 for help and version, 2 for usage errors', async () => {
    const help = io();
    expect(await run(['node', 'lakesync', '--help'], help.io)).toBe(0);
    expect(help.out.stdout).toContain('Usage: lakesync');
    expect(await run(['node', 'lakesync', '--version'], io().io)).toBe(0);
    const missing = io();
    expect(await run(['node', 'lakesync', 'sync', 'kb'], missing.io)).toBe(2);
    expect(missing.out.stderr).toContain("missing required argument 'sourceId'");
    expect(await run(['node', 'lakesync', 'jobs', 'list', 'kb', '--kind', 'other'], io().io)).toBe(2);
    expect(await run(['node', 'lakesync', 'sync', 'kb', 'src', '--interval', '5'], io().io)).toBe(2);
  });

  it('1 when the API cannot be reached', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const down = io();
    expect(await run(['node', 'lakesync', 'buckets', 'list', '--url', `http://127.0.0.1:${port}`], down.io)).toBe(1);
    expect(down.out.stderr).toBe(`error: cannot reach lakesync at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });
});
