/**
 * The multipart reader on its own, behind a real HTTP server: the issue's
 * 10,005-part request against the default limit of 10,000 files, which the
 * e2e suite (with its limit lowered) cannot afford to store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadEnv } from '../../config/env.js';
import { ApiError } from '../../api/errors.js';
import { eachMultipartFile } from '../../api/multipart-files.js';
import { sendWhole } from '../support/raw-http.js';

describe('multipart file limit', () => {
  const maxFiles = loadEnv({}).UPLOAD_MAX_FILES_PER_REQUEST;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Reads each file to the end, as the upload route does, and reports what it was handed.
    server = createServer((req, res) => {
      const names: string[] = [];
      eachMultipartFile(req, { maxFiles, maxFields: 100, maxFieldBytes: 64 * 1024 }, async (file) => {
        for await (const _chunk of file.body) void _chunk;
        names.push(file.fileName);
      }).then(
        () => res.end(JSON.stringify({ stored: names.length })),
        (err: unknown) =>
          res.end(JSON.stringify({ stored: names.length, error: err instanceof ApiError ? { message: err.message, details: err.details } : String(err) })),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const body = (files: number) => {
    let out = '';
    for (let i = 0; i < files; i++) out += `--XX\r\nContent-Disposition: form-data; name="f"; filename="f-${i}.txt"\r\n\r\n${i}\r\n`;
    return `${out}--XX--\r\n`;
  };

  it('defaults to 10,000 files a request', () => {
    expect(maxFiles).toBe(10_000);
    expect(() => loadEnv({ UPLOAD_MAX_FILES_PER_REQUEST: '0' })).toThrow(/UPLOAD_MAX_FILES_PER_REQUEST/);
  });

  it('refuses 10,005 files naming the field, and stores none past the limit', async () => {
    const res = await sendWhole(url, 'POST', { 'content-type': 'multipart/form-data; boundary=XX' }, body(10_005));
    expect(res.body.error).toEqual({
      message: 'file: more than 10000 files in one request; send them in several',
      details: [{ field: 'file', problem: 'more than 10000 files in one request; send them in several' }],
    });
    expect(res.body.stored).toBeLessThanOrEqual(10_000);
  });

  it('takes exactly 10,000', async () => {
    const res = await sendWhole(url, 'POST', { 'content-type': 'multipart/form-data; boundary=XX' }, body(10_000));
    expect(res.body).toEqual({ stored: 10_000 });
  });
});
