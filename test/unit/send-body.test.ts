/**
 * sendBody tells a client that left from a source that broke, over real
 * loopback sockets: the lake's bytes as a file stream or as another server's
 * HTTP response (the S3 lake's), the client as a raw socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { sendBody, type SendOutcome } from '../../api/send-body.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(handler: (res: ServerResponse) => void): Promise<number> {
  const server = createServer((_req, res) => handler(res));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** Serves `source()` through sendBody and resolves with how it ended. */
async function serving(source: () => Readable | Promise<Readable>): Promise<{ port: number; outcome: Promise<SendOutcome> }> {
  let settle!: (o: SendOutcome) => void;
  const outcome = new Promise<SendOutcome>((r) => (settle = r));
  const port = await listen((res) => {
    res.setHeader('content-length', String(64 * 1024 ** 2));
    void Promise.resolve(source()).then((s) => sendBody(s, res).then(settle));
  });
  return { port, outcome };
}

/** A client that reads the headers and a little of the body, then closes its socket. */
async function dropAfterSome(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  let seen = 0;
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > 256 * 1024) break;
  }
  socket.destroy();
}

describe('sendBody', () => {
  it('a whole body is sent', async () => {
    let settle!: (o: SendOutcome) => void;
    const outcome = new Promise<SendOutcome>((r) => (settle = r));
    const port = await listen((res) => void sendBody(Readable.from([Buffer.from('hello')]), res).then(settle));
    const res = await new Promise<IncomingMessage>((r) => get(`http://127.0.0.1:${port}/`, r));
    let body = '';
    for await (const c of res) body += String(c);
    expect(body).toBe('hello');
    expect((await outcome).ended).toBe('sent');
  });

  it('the client leaving mid-body is client-gone, with a stream source', async () => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const { port, outcome } = await serving(
      () =>
        new Readable({
          read() {
            this.push(chunk);
          },
        }),
    );
    await dropAfterSome(port);
    expect((await outcome).ended).toBe('client-gone');
  });

  it('the client leaving mid-body is client-gone when the source is another server’s HTTP response', async () => {
    const chunk = Buffer.alloc(64 * 1024, 2);
    // The upstream keeps sending until its client (sendBody's source) is destroyed.
    const upstream = await listen((res) => {
      const push = () => {
        if (res.destroyed) return;
        if (res.write(chunk)) setImmediate(push);
        else res.once('drain', push);
      };
      push();
    });
    const { port, outcome } = await serving(() => new Promise<Readable>((r) => get(`http://127.0.0.1:${upstream}/`, r)));
    await dropAfterSome(port);
    expect((await outcome).ended).toBe('client-gone');
  });

  it('a client gone before the body starts (while the lake was opening it) is client-gone, and the source is let go', async () => {
    let settle!: (o: SendOutcome) => void;
    const outcome = new Promise<SendOutcome>((r) => (settle = r));
    const source = Readable.from([Buffer.from('never sent')]);
    const port = await listen((res) => res.once('close', () => void sendBody(source, res).then(settle)));
    const socket = connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    expect((await outcome).ended).toBe('client-gone');
    expect(source.destroyed).toBe(true);
  });

  it('the source breaking mid-body is source-failed, with its error', async () => {
    let sent = 0;
    const { port, outcome } = await serving(
      () =>
        new Readable({
          read() {
            if (++sent === 4) this.destroy(Object.assign(new Error('disk gone'), { code: 'EIO' }));
            else this.push(Buffer.alloc(1024, 3));
          },
        }),
    );
    const socket = connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.resume();
    const ended = await outcome;
    socket.destroy();
    expect(ended.ended).toBe('source-failed');
    expect(ended.ended === 'source-failed' && (ended.err as Error).message).toBe('disk gone');
  });
});
