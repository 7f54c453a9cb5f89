import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../domain/secrets.js';
import { PageTokens } from '../../api/pagination.js';
import { loadEnv, workerForceSeconds, workerVersion } from '../../config/env.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32).toString('base64'));

  it('round-trips and never shows the plaintext', () => {
    const sealed = box.seal({ secretAccessKey: 'very-secret-value' });
    expect(sealed).not.toContain('very-secret-value');
    expect(box.open<{ secretAccessKey: string }>(sealed)).toEqual({ secretAccessKey: 'very-secret-value' });
  });

  it('refuses a tampered or foreign ciphertext', () => {
    const sealed = box.seal({ a: 1 });
    const parts = sealed.split('.');
    parts[3] = Buffer.from('{"a":2}').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
    expect(() => new SecretBox(randomBytes(32).toString('base64')).open(sealed)).toThrow();
  });
});

describe('page tokens', () => {
  const tokens = new PageTokens(randomBytes(32));

  it('decode what they encode, in their own scope only', () => {
    const t = tokens.encode('sources:b1', 'src_42');
    expect(tokens.decode('sources:b1', t)).toBe('src_42');
    expect(tokens.decode('sources:b1', undefined)).toBeNull();
    expect(() => tokens.decode('sources:b2', t)).toThrow(/page_token/);
  });

  it('reject an edited position', () => {
    const t = tokens.encode('s', 'a');
    const forged = Buffer.from(JSON.stringify({ s: 's', a: 'z' })).toString('base64url') + '.' + t.split('.')[1];
    expect(() => tokens.decode('s', forged)).toThrow(/page_token/);
  });
});

describe('environment', () => {
  it('names the variable that is wrong', () => {
    expect(() => loadEnv({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadEnv({ LAKE_STORAGE: 's3' })).toThrow(/LAKE_S3_ENDPOINT: required when LAKE_STORAGE=s3/);
    expect(() => loadEnv({ NODE_ENV: 'production' })).toThrow(/LAKESYNC_SECRET_KEY/);
    expect(() => loadEnv({ LAKESYNC_SECRET_KEY: 'c2hvcnQ=' })).toThrow(/LAKESYNC_SECRET_KEY: must be 32 bytes/);
  });

  it('checks the shutdown and metrics settings', () => {
    expect(() => loadEnv({ WORKER_SHUTDOWN_GRACE_SECONDS: '60', WORKER_SHUTDOWN_FORCE_SECONDS: '60' })).toThrow(
      /WORKER_SHUTDOWN_FORCE_SECONDS: must be more than WORKER_SHUTDOWN_GRACE_SECONDS \(60\)/,
    );
    expect(() => loadEnv({ WORKER_METRICS_PORT: 'metrics' })).toThrow(/WORKER_METRICS_PORT/);
    expect(() => loadEnv({ API_SHUTDOWN_GRACE_SECONDS: '-1' })).toThrow(/API_SHUTDOWN_GRACE_SECONDS/);
    const defaults = loadEnv({});
    expect(defaults).toMatchObject({ WORKER_SHUTDOWN_GRACE_SECONDS: 30, API_SHUTDOWN_GRACE_SECONDS: 30, WORKER_METRICS_HOST: '127.0.0.1' });
    expect(defaults.WORKER_METRICS_PORT).toBeUndefined();
    expect(workerForceSeconds(defaults)).toBe(60);
    expect(workerForceSeconds(loadEnv({ WORKER_SHUTDOWN_GRACE_SECONDS: '5', WORKER_SHUTDOWN_FORCE_SECONDS: '9' }))).toBe(9);
    expect(loadEnv({ WORKER_METRICS_PORT: '0' }).WORKER_METRICS_PORT).toBe(0);
  });

  it('takes Worker Versioning whole or not at all', () => {
    expect(workerVersion(loadEnv({}))).toBeUndefined();
    expect(loadEnv({}).LAKESYNC_WORKER_SET_CURRENT).toBe(false);
    const versioned = loadEnv({ LAKESYNC_WORKER_DEPLOYMENT: 'lakesync', LAKESYNC_WORKER_BUILD_ID: '1.4.2+abc', LAKESYNC_WORKER_SET_CURRENT: 'true' });
    expect(workerVersion(versioned)).toEqual({ deploymentName: 'lakesync', buildId: '1.4.2+abc' });
    expect(versioned.LAKESYNC_WORKER_SET_CURRENT).toBe(true);
    expect(() => loadEnv({ LAKESYNC_WORKER_DEPLOYMENT: 'lakesync' })).toThrow(/LAKESYNC_WORKER_BUILD_ID: required with LAKESYNC_WORKER_DEPLOYMENT/);
    expect(() => loadEnv({ LAKESYNC_WORKER_BUILD_ID: 'abc' })).toThrow(/LAKESYNC_WORKER_DEPLOYMENT: required with LAKESYNC_WORKER_BUILD_ID/);
    expect(() => loadEnv({ LAKESYNC_WORKER_SET_CURRENT: 'true' })).toThrow(/LAKESYNC_WORKER_SET_CURRENT: needs LAKESYNC_WORKER_DEPLOYMENT/);
    expect(() => loadEnv({ LAKESYNC_WORKER_DEPLOYMENT: 'lake.sync', LAKESYNC_WORKER_BUILD_ID: 'abc' })).toThrow(
      /LAKESYNC_WORKER_DEPLOYMENT: must not contain dots/,
    );
    expect(() => loadEnv({ LAKESYNC_WORKER_DEPLOYMENT: 'lakesync', LAKESYNC_WORKER_BUILD_ID: 'a b' })).toThrow(/LAKESYNC_WORKER_BUILD_ID/);
  });

  it('has embedded defaults', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 8080, HOST: '127.0.0.1', LAKE_STORAGE: 'filesystem', TEMPORAL_NAMESPACE: 'default', TEMPORAL_TASK_QUEUE: 'lakesync' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
  });
});
