/**
 * HTTPS in front of a loopback HTTP endpoint, for clients that behave
 * differently over TLS: botocore (the aws CLI, boto3) sends
 * `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer only over HTTPS;
 * over plain HTTP it signs the payload and puts the checksum in a header.
 * Bytes pass through untouched (Host included, so signatures verify upstream);
 * the certificate is a throwaway one for 127.0.0.1 made by `openssl`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { promisify } from 'node:util';

export interface TlsFront {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** The certificate to trust (PEM), for S3Endpoint.caBundle. */
  caFile: string;
  close(): Promise<void>;
}

export async function startTlsFront(upstream: string): Promise<TlsFront> {
  const target = new URL(upstream);
  const dir = await mkdtemp(join(tmpdir(), 'lakesync-tls-'));
  const [keyFile, caFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile,
  ]); // prettier-ignore
  const sockets = new Set<Socket>();
  const server = createServer({ key: await readFile(keyFile), cert: await readFile(caFile) }, (client) => {
    const up = connect(Number(target.port), target.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    client.once('error', () => up.destroy());
    up.once('error', () => client.destroy());
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caFile,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
