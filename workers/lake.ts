import type { Env } from '../config/env.js';
import { lakeDir } from '../config/env.js';
import { FilesystemLake } from '../lake/fs-lake.js';
import { S3Lake } from '../lake/s3-lake.js';
import { createS3Client } from '../activities/storage/s3-client.js';
import { S3Copier } from '../lake/s3-copier.js';
import { credentialIdentity } from '../activities/storage/credential-identity.js';
import type { LakeStore } from '../lake/types.js';

/** The lake the configuration names: a directory (embedded default) or one S3 bucket. */
export function createLake(env: Env): LakeStore {
  if (env.LAKE_STORAGE === 's3') {
    const client = createS3Client({
      endpoint: env.LAKE_S3_ENDPOINT,
      region: env.LAKE_S3_REGION,
      forcePathStyle: env.LAKE_S3_FORCE_PATH_STYLE,
      accessKeyId: env.LAKE_S3_ACCESS_KEY_ID!,
      secretAccessKey: env.LAKE_S3_SECRET_ACCESS_KEY!,
      maxSockets: 256,
      checksumsOnlyWhenRequired: true,
    });
    // Path-style endpoints (MinIO, most S3-compatible stores) get the lean copy path.
    const copier =
      env.LAKE_S3_ENDPOINT && env.LAKE_S3_FORCE_PATH_STYLE
        ? new S3Copier({
            endpoint: env.LAKE_S3_ENDPOINT,
            region: env.LAKE_S3_REGION,
            accessKeyId: env.LAKE_S3_ACCESS_KEY_ID!,
            secretAccessKey: env.LAKE_S3_SECRET_ACCESS_KEY!,
            connections: 256,
          })
        : undefined;
    const identity = credentialIdentity({ accessKeyId: env.LAKE_S3_ACCESS_KEY_ID!, secretAccessKey: env.LAKE_S3_SECRET_ACCESS_KEY! });
    return new S3Lake(client, env.LAKE_S3_BUCKET!, env.LAKE_S3_ENDPOINT, identity, copier);
  }
  return new FilesystemLake(lakeDir(env));
}
