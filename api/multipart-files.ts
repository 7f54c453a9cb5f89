import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { errorMessage } from '../domain/error-text.js';
import { ClientGoneError } from './client-gone.js';
import { ApiError } from './errors.js';

export interface MultipartLimits {
  /** Files in one request; one more refuses the whole request. */
  maxFiles: number;
  /** Non-file form fields (ignored, but counted so a flood of them is refused). */
  maxFields: number;
  /** Bytes of one non-file field. */
  maxFieldBytes: number;
}

export interface IncomingFile {
  /** The client's file name (busboy keeps only its base name). */
  fileName: string;
  mimeType: string;
  /**
   * The file's bytes. A stream of its own, so a reader that fails and destroys
   * it (as a lake put does) never destroys busboy's stream, which would stall
   * the parser; it fails when the body breaks off inside the file.
   */
  body: Readable;
}

const BOUNDARY_PARAM = /^\s*boundary\s*=/i;

/**
 * The content type with only the boundary the body is written with. curl given
 * both a `Content-Type: multipart/form-data; boundary=…` header and `--form`
 * (as DataInsider's own upload sample is written) keeps the header's boundary
 * and appends the one it writes the body with: of several, the last is the
 * body's (busboy would take the first and find no part).
 */
export function bodyBoundary(contentType: string | undefined): string | undefined {
  const params = contentType?.split(';') ?? [];
  const boundaries = params.filter((p) => BOUNDARY_PARAM.test(p));
  if (boundaries.length < 2) return contentType;
  return params.filter((p) => !BOUNDARY_PARAM.test(p) || p === boundaries.at(-1)).join(';');
}

/**
 * Reads a multipart body one file at a time, handing each to `store` and
 * waiting for it before the next is stored. Resolves when the body was whole
 * and every file was handed over. Rejects, once every `store` call has
 * settled, with a 400 naming the field when the body is malformed, truncated
 * or over a limit, with ClientGoneError when the client disconnected, or
 * with `store`'s own error. Files queued behind a failure are not stored.
 */
export async function eachMultipartFile(req: IncomingMessage, limits: MultipartLimits, store: (file: IncomingFile) => Promise<void>): Promise<void> {
  // It may have gone while the route looked the sync up.
  if (req.destroyed) throw new ClientGoneError();
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { ...req.headers, 'content-type': bodyBoundary(req.headers['content-type']) },
      defParamCharset: 'utf8',
      limits: { files: limits.maxFiles, fields: limits.maxFields, fieldSize: limits.maxFieldBytes },
    });
  } catch (err) {
    // A multipart content type without a usable boundary.
    throw ApiError.invalid('content-type', `is not usable multipart/form-data: ${errorMessage(err)}`);
  }
  let failure: Error | null = null;
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    // Busboy fails the file being read with the same error; the rest of the body is read and discarded, so a client still sending gets its answer.
    req.unpipe(parser);
    req.resume();
    parser.destroy(err);
  };
  const closed = new Promise<void>((resolve) => parser.once('close', resolve));
  let chain: Promise<void> = Promise.resolve();

  parser.on('error', (err: Error) =>
    fail(err instanceof ApiError || err instanceof ClientGoneError ? err : ApiError.invalid('body', `is not valid multipart/form-data: ${err.message}`)),
  );
  parser.on('filesLimit', () => fail(ApiError.invalid('file', `more than ${limits.maxFiles} files in one request; send them in several`)));
  parser.on('fieldsLimit', () => fail(ApiError.invalid('body', `more than ${limits.maxFields} non-file form fields`)));
  parser.on('file', (_field, stream, info) => {
    const body = new PassThrough();
    // Busboy's stream errors only when the body breaks off inside this file (the parser's failure says why): the copy fails with it.
    stream.on('error', (err) => body.destroy(err));
    // Its reader (a lake put's pipeline) gets that error through its own listener; a copy not yet (or never) read has none, and the parser's failure reports it.
    body.on('error', () => undefined);
    // Until this file's turn, backpressure holds it (and so the parser) once the copy's buffer is full.
    stream.pipe(body);
    // Whatever is left unread is discarded, so the parser moves on to the next part.
    const drain = () => {
      stream.unpipe(body);
      body.destroy();
      stream.resume();
    };
    chain = chain.then(async () => {
      if (failure) return drain();
      try {
        await store({ fileName: info.filename ?? '', mimeType: info.mimeType, body });
      } catch (err) {
        fail(err as Error);
      } finally {
        if (!body.readableEnded) drain();
      }
    });
  });

  // An aborted request ends without 'end': without this the parser would wait for the rest forever.
  const onClose = () => {
    if (!req.complete) fail(new ClientGoneError());
  };
  // With a listener an aborted request also emits 'error' (ECONNRESET): the same disconnection.
  const onError = () => fail(new ClientGoneError());
  req.once('close', onClose);
  req.on('error', onError);
  req.pipe(parser);
  try {
    await closed;
    await chain;
  } finally {
    req.off('close', onClose);
    req.off('error', onError);
  }
  if (failure) throw failure;
}
