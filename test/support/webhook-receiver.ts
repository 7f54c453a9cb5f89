import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface Delivery {
  idempotencyKey: string;
  body: { bucket: string; key: string; etag: string; size: number; contentType: string; url: string | null };
  signatureValid: boolean;
  /** The status this receiver answered. */
  status: number;
}

/**
 * A real HTTP endpoint for webhook pipelines, on 127.0.0.1. `answer` picks the
 * status per delivery (given how often that idempotency key was seen before);
 * it records everything, and verifies each signature against `secret`.
 */
export async function startWebhookReceiver(secret: string, answer: (d: Omit<Delivery, 'status'>, seenBefore: number) => number = () => 200, delayMs = 0) {
  const deliveries: Delivery[] = [];
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const ts = String(req.headers['x-lakesync-timestamp'] ?? '');
      const given = Buffer.from(String(req.headers['x-lakesync-signature'] ?? ''));
      const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex')}`);
      const d = {
        idempotencyKey: String(req.headers['idempotency-key'] ?? ''),
        body: JSON.parse(raw) as Delivery['body'],
        signatureValid: given.length === expected.length && timingSafeEqual(given, expected),
      };
      const before = seen.get(d.idempotencyKey) ?? 0;
      seen.set(d.idempotencyKey, before + 1);
      const status = answer(d, before);
      deliveries.push({ ...d, status });
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end('{}'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
  return {
    url,
    deliveries,
    /** Deliveries this receiver accepted (2xx), by idempotency key. */
    accepted: () => deliveries.filter((d) => d.status >= 200 && d.status < 300),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
