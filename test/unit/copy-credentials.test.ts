/**
 * The lake copies server-side with its own credentials, so only for a source
 * that reads as the very same principal: an access key id alone (no secret)
 * or other keys must never get the lake to read for them.
 */
import { describe, expect, it } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Lake } from '../../lake/s3-lake.js';
import { credentialIdentity } from '../../activities/storage/credential-identity.js';

describe('server-side copies and credentials', () => {
  const lakeCreds = { accessKeyId: 'LAKEKEY', secretAccessKey: 'lake-secret' };
  // Nothing listens here: a copy that was attempted would fail instead of answering null.
  const client = new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', forcePathStyle: true, credentials: lakeCreds, maxAttempts: 1 });
  const lake = new S3Lake(client, 'lake', 'http://127.0.0.1:9', credentialIdentity(lakeCreds));
  const from = (credentials: string) => ({ endpoint: 'http://127.0.0.1:9', bucket: 'src', key: 'k', credentials });

  it.each([
    ['the lake key id with another secret', credentialIdentity({ accessKeyId: 'LAKEKEY', secretAccessKey: 'guessed' })],
    ['the lake key id and secret with a session token', credentialIdentity({ ...lakeCreds, sessionToken: 'sts' })],
    ['other keys', credentialIdentity({ accessKeyId: 'OTHER', secretAccessKey: 'lake-secret' })],
  ])('streams instead for %s', async (_what, credentials) => {
    expect(await lake.copyFrom('kb', 'k', from(credentials), 10)).toBeNull();
  });

  it('copies server-side for the lake’s own credentials (and so reaches S3)', async () => {
    await expect(lake.copyFrom('kb', 'k', from(credentialIdentity(lakeCreds)), 10)).rejects.toThrow();
  });
});
