import type { IncomingMessage } from 'node:http';

/** The client went away before its request body ended: there is nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection before the request body ended');
  }
}

/**
 * Whether `err` is the client having closed its connection before the request
 * body ended (an aborted upload): Node's 'aborted' reset, the premature close a
 * stream pipeline reports, body-parser's `request.aborted`. Nothing is wrong
 * on this side and there is nobody to answer.
 */
export function isClientGone(req: IncomingMessage, err: unknown): boolean {
  if (err instanceof ClientGoneError) return true;
  const e = err as { code?: unknown; type?: unknown } | null;
  if (e?.type === 'request.aborted') return true;
  return req.destroyed && !req.complete && (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE');
}
