import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';

/** How streaming a body to the client ended, once its headers were out. */
export type SendOutcome = { ended: 'sent' } | { ended: 'client-gone' } | { ended: 'source-failed'; err: unknown };

/**
 * Streams `source` to `res`. Which side broke first is told by events, not by
 * the error pipeline reports: once the client closes, pipeline destroys the
 * source, and on Node ≥ 22 a destroyed HTTP response (the S3 lake's) errors
 * with `aborted`, which pipeline then reports instead of the premature close.
 */
export async function sendBody(source: Readable, res: ServerResponse): Promise<SendOutcome> {
  // Gone while the source was being opened: its 'close' has been and gone.
  if (res.destroyed) {
    source.destroy();
    return { ended: 'client-gone' };
  }
  let clientLeftFirst = false;
  let sourceFailedFirst = false;
  const onClose = () => {
    if (!res.writableFinished && !sourceFailedFirst) clientLeftFirst = true;
  };
  const onError = () => {
    if (!clientLeftFirst) sourceFailedFirst = true;
  };
  // Registered before pipeline's own listeners, so they run first.
  res.once('close', onClose);
  source.once('error', onError);
  try {
    await pipeline(source, res);
    return { ended: 'sent' };
  } catch (err) {
    return clientLeftFirst ? { ended: 'client-gone' } : { ended: 'source-failed', err };
  } finally {
    res.off('close', onClose);
    source.off('error', onError);
  }
}
