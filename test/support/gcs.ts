import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import pLimit from 'p-limit';
import { inject } from 'vitest';

/** The official client on the suite's fake-gcs-server: the tests fill and change source buckets with it as a user would. */
export function gcsStorage(endpoint = inject('infra').gcs.endpoint): Storage {
  // A custom endpoint is called without credentials (the emulator wants none).
  return new Storage({ apiEndpoint: endpoint, projectId: 'lakesync-test' });
}

export async function gcsBucket(storage: Storage, name: string): Promise<void> {
  await storage.createBucket(name);
}

export async function gcsPutAll(storage: Storage, bucket: string, prefix: string, files: Map<string, Buffer>): Promise<void> {
  const limit = pLimit(16);
  await Promise.all(
    [...files].map(([key, body]) =>
      limit(() =>
        storage
          .bucket(bucket)
          .file(prefix + key)
          .save(body, { resumable: false }),
      ),
    ),
  );
}

/** A service-account key file of a fresh RSA key, as Google hands one out; the private key is the secret. */
export function serviceAccountKey(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return {
    type: 'service_account',
    project_id: 'lakesync-test',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: 'reader@lakesync-test.iam.gserviceaccount.com',
    client_id: '1234567890',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
}
