import { describe, expect, it } from 'vitest';
import { CreateSource } from '../../api/routes/source-schemas.js';
import { presetProblem, resolveS3Addressing, S3_PROVIDERS, type S3Provider } from '../../domain/s3-presets.js';
import { createConnection, patchConnection, SOURCE_KINDS, type EdgeChecks, type SourceConnection } from '../../domain/source-kinds.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const keys = { accessKeyId: 'AK', secretAccessKey: 'SK' };
const allow: EdgeChecks = { urlProblem: () => null, sourceDirProblem: async () => null };
const create = (s3: Record<string, unknown>) => createConnection('s3', { s3: SOURCE_KINDS.s3.create.input.parse({ bucket: 'data', ...keys, ...s3 }) });

describe('S3 provider presets', () => {
  it('fill the endpoint, region and addressing style from one field', () => {
    const resolved: { [P in S3Provider]: ReturnType<typeof resolveS3Addressing> } = {
      aws: { region: 'us-east-1', forcePathStyle: false },
      r2: { endpoint: `https://${ACCOUNT}.r2.cloudflarestorage.com`, region: 'auto', forcePathStyle: true },
      tigris: { endpoint: 'https://t3.storage.dev', region: 'auto', forcePathStyle: false },
      'gcs-hmac': { endpoint: 'https://storage.googleapis.com', region: 'auto', forcePathStyle: true },
      b2: { endpoint: 'https://s3.us-west-004.backblazeb2.com', region: 'us-west-004', forcePathStyle: true },
      wasabi: { endpoint: 'https://s3.us-east-1.wasabisys.com', region: 'us-east-1', forcePathStyle: true },
    };
    expect([...S3_PROVIDERS].sort()).toEqual(Object.keys(resolved).sort());
    for (const provider of S3_PROVIDERS) {
      const given = { provider, ...(provider === 'r2' ? { accountId: ACCOUNT } : {}), ...(provider === 'b2' ? { region: 'us-west-004' } : {}) };
      expect(resolveS3Addressing(given), provider).toEqual(resolved[provider]);
      expect(presetProblem(given), provider).toBeNull();
    }
    expect(resolveS3Addressing({ provider: 'wasabi', region: 'eu-central-2' })).toMatchObject({
      endpoint: 'https://s3.eu-central-2.wasabisys.com',
      region: 'eu-central-2',
    });
    expect(resolveS3Addressing({ provider: 'aws', region: 'eu-west-1' })).toEqual({ region: 'eu-west-1', forcePathStyle: false });
  });

  it('yield to fields given beside them, and leave plain S3 defaults alone without one', () => {
    expect(resolveS3Addressing({ provider: 'tigris', endpoint: 'http://minio.internal:9000', forcePathStyle: true })).toEqual({
      endpoint: 'http://minio.internal:9000',
      region: 'auto',
      forcePathStyle: true,
    });
    expect(resolveS3Addressing({})).toEqual({ region: 'us-east-1', forcePathStyle: true });
    expect(resolveS3Addressing({ endpoint: 'https://s3.example.com', region: 'x' })).toEqual({
      endpoint: 'https://s3.example.com',
      region: 'x',
      forcePathStyle: true,
    });
  });

  it('name the field a preset still needs', () => {
    expect(presetProblem({ provider: 'r2' })).toEqual({ field: 'accountId', problem: 'is required with provider "r2"' });
    expect(presetProblem({ provider: 'b2' })).toEqual({ field: 'region', problem: 'is required with provider "b2"' });
    expect(presetProblem({ provider: 'b2', region: 'evil.example.com/x' })).toMatchObject({ field: 'region' });
    expect(presetProblem({ provider: 'r2', endpoint: 'https://r2.example.com' })).toBeNull();
    expect(presetProblem({ accountId: ACCOUNT })).toEqual({ field: 'accountId', problem: 'applies only with provider "r2"' });
  });

  it('are resolved when a source is created: the stored settings hold the provider and what it filled', async () => {
    const r2 = create({ provider: 'r2', accountId: ACCOUNT });
    expect(r2.connection).toEqual({
      s3: {
        bucket: 'data',
        prefix: '',
        provider: 'r2',
        accountId: ACCOUNT,
        endpoint: `https://${ACCOUNT}.r2.cloudflarestorage.com`,
        region: 'auto',
        forcePathStyle: true,
      },
    });
    expect(r2.credentials).toEqual(keys);
    expect(await create({ provider: 'r2' }).check(allow)).toEqual({ field: 's3.accountId', problem: 'is required with provider "r2"' });
    // b2 has no default region: the check must not be fooled by the plain S3 default filled in by then.
    expect(await create({ provider: 'b2' }).check(allow)).toEqual({ field: 's3.region', problem: 'is required with provider "b2"' });
    expect(await create({ provider: 'b2', region: 'us-west-004' }).check(allow)).toBeNull();
    // Without a provider nothing changes: the defaults are the ones S3 sources always had.
    expect(create({}).connection).toEqual({ s3: { bucket: 'data', prefix: '', region: 'us-east-1', forcePathStyle: true } });
    // The filled endpoint is held to the destination policy like a given one.
    const asked: string[] = [];
    await create({ provider: 'gcs-hmac' }).check({ ...allow, urlProblem: (u) => (asked.push(u), null) });
    expect(asked).toEqual(['https://storage.googleapis.com']);
    expect(CreateSource.safeParse({ name: 'n', kind: 's3', s3: { bucket: 'data', ...keys, provider: 'minio' } }).error?.issues[0]?.path).toEqual([
      's3',
      'provider',
    ]);
  });

  it('are applied anew by a PATCH that names a provider, and left alone by one that does not', () => {
    const stored: SourceConnection = {
      s3: { bucket: 'data', prefix: '', provider: 'wasabi', endpoint: 'https://s3.eu-central-2.wasabisys.com', region: 'eu-central-2', forcePathStyle: true },
    };
    expect(patchConnection(stored, { s3: { prefix: 'in/' } })).toMatchObject({ connection: { s3: { ...stored.s3, prefix: 'in/' } } });
    const toAws = patchConnection(stored, { s3: { provider: 'aws', region: 'eu-west-1' } });
    expect(toAws && 'connection' in toAws ? toAws.connection : null).toEqual({
      s3: { bucket: 'data', prefix: '', provider: 'aws', endpoint: undefined, region: 'eu-west-1', forcePathStyle: false },
    });
    const toR2 = patchConnection(stored, { s3: { provider: 'r2', accountId: ACCOUNT } });
    expect(toR2 && 'connection' in toR2 ? toR2.connection : null).toMatchObject({
      s3: { endpoint: `https://${ACCOUNT}.r2.cloudflarestorage.com`, region: 'auto' },
    });
  });
});
