import aws4 from 'aws4';
import { request } from 'undici';
import { inject } from 'vitest';

/**
 * Temporary credentials from MinIO's STS AssumeRole, narrowed by an inline
 * session policy: the one way to make objects unreadable to a source when the
 * suite holds MinIO's root keys (root ignores bucket policies).
 */
export async function restrictedCredentials(policy: object): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const { minio } = inject('infra');
  const url = new URL(minio.endpoint);
  const body = new URLSearchParams({ Action: 'AssumeRole', Version: '2011-06-15', DurationSeconds: '3600', Policy: JSON.stringify(policy) }).toString();
  const signed = aws4.sign(
    { host: url.host, path: '/', method: 'POST', service: 'sts', region: 'us-east-1', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  );
  const res = await request(`${url.origin}/`, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  const xml = await res.body.text();
  const field = (tag: string) => new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)?.[1];
  const [accessKeyId, secretAccessKey, sessionToken] = [field('AccessKeyId'), field('SecretAccessKey'), field('SessionToken')];
  if (res.statusCode !== 200 || !accessKeyId || !secretAccessKey || !sessionToken)
    throw new Error(`AssumeRole answered ${res.statusCode}: ${xml.slice(0, 300)}`);
  return { accessKeyId, secretAccessKey, sessionToken };
}
