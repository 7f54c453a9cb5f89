import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';

/**
 * Requests fetch cannot make: bodies that break off, clients that stall and
 * vanish, downloads dropped halfway. Plain node:http, so what reaches the
 * server is exactly what the test wrote.
 */

export interface RawAnswer {
  status: number;
  /** The body parsed as JSON when it is JSON, else its text. */
  body: any;
}

function readAnswer(res: IncomingMessage): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('error', reject);
    res.once('end', () => {
      const text = Buffer.concat(chunks).toString();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      resolve({ status: res.statusCode ?? 0, body });
    });
  });
}

/** Sends `body` whole, with a Content-Length that matches it, and reads the answer. */
export function sendWhole(url: string, method: string, headers: Record<string, string>, body: Buffer | string): Promise<RawAnswer> {
  const bytes = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(bytes.length) } });
    req.once('response', (res) => readAnswer(res).then(resolve, reject));
    req.once('error', reject);
    req.end(bytes);
  });
}

export interface OpenRequest {
  req: ClientRequest;
  /** Writes a part of the body and resolves once it is handed to the socket. */
  write(chunk: Buffer | string): Promise<void>;
  /** Ends the body with a last part. */
  end(chunk: Buffer | string): void;
  /** Drops the connection with the body unfinished. */
  abort(): void;
  /** The answer, should one come; rejects when the connection is dropped first. */
  answer: Promise<RawAnswer>;
}

/** Starts a request whose body the test writes piece by piece (and may never finish). */
export function openRequest(url: string, method: string, headers: Record<string, string>): OpenRequest {
  const req = request(url, { method, headers });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    req.once('response', (res) => readAnswer(res).then(resolve, reject));
    req.once('error', reject);
  });
  // A dropped request rejects its answer; tests that drop it do not wait for one.
  answer.catch(() => undefined);
  req.flushHeaders();
  return {
    req,
    write: (chunk) => new Promise((resolve, reject) => req.write(chunk, (err) => (err ? reject(err) : resolve()))),
    end: (chunk) => void req.end(chunk),
    abort: () => req.destroy(),
    answer,
  };
}

/**
 * GETs `url`, reads the status and the first chunk of the body, then drops the
 * connection; resolves with the status and how many bytes had arrived.
 */
export function dropDownload(url: string, headers: Record<string, string>): Promise<{ status: number; received: number; contentLength: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers });
    let dropped = false;
    req.on('error', (err) => (dropped ? undefined : reject(err)));
    req.once('response', (res) => {
      res.once('data', (c: Buffer) => {
        dropped = true;
        req.destroy();
        resolve({ status: res.statusCode ?? 0, received: c.length, contentLength: Number(res.headers['content-length'] ?? 0) });
      });
      res.once('error', () => undefined);
    });
    req.end();
  });
}

/**
 * Opens a raw TCP connection, writes `head` (request line and headers) and
 * `body`, then half-closes it: the body is shorter than its Content-Length
 * says, and the server reads end-of-stream in the middle of it.
 */
export function sendAndHangUp(url: string, head: string, body: Buffer | string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(head);
      socket.end(body);
    });
    // Whatever the server does with it (answers, resets), the test looks at the server afterwards.
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
    socket.resume();
  });
}
