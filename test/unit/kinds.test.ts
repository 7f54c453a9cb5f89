import { describe, expect, it } from 'vitest';
import { CreateSource, UpdateSource } from '../../api/routes/source-schemas.js';
import { CreatePipeline, UpdatePipeline } from '../../api/routes/pipeline-schemas.js';
import { SOURCE_READERS } from '../../activities/storage/source-readers.js';
import { PIPELINE_RUNNERS } from '../../activities/pipelines/runners.js';
import { PUSHED_SOURCE_KINDS, SOURCE_ARRIVAL, SOURCE_KIND_NAMES, assertNever, type PipelineKind, type SourceKind } from '../../domain/kinds.js';
import {
  CREATABLE_SOURCE_KINDS,
  PATCHABLE_SOURCE_KINDS,
  SOURCE_KINDS,
  connectionJson,
  createConnection,
  kindedConnection,
  patchConnection,
  sourceKindOf,
  type EdgeChecks,
  type SourceConnection,
} from '../../domain/source-kinds.js';
import {
  PIPELINE_KINDS,
  PIPELINE_KIND_NAMES,
  configJson,
  createPipelineConfig,
  kindedConfig,
  patchPipelineConfig,
  pipelineKindOf,
} from '../../domain/pipeline-kinds.js';

const sorted = (xs: Iterable<string>) => [...xs].sort();

/** Checks that record what they were asked, and refuse what they are told to. */
function edge(refuse: { url?: string; dir?: string } = {}) {
  const asked: string[] = [];
  const checks: EdgeChecks = {
    urlProblem: (url) => (asked.push(`url ${url}`), url === refuse.url ? 'is refused' : null),
    sourceDirProblem: async (path) => (asked.push(`dir ${path}`), path === refuse.dir ? 'does not exist' : null),
  };
  return { checks, asked };
}

describe('the registries cover every kind', () => {
  it('each source kind has a pure entry, a worker entry and an arrival, and nothing else does', () => {
    expect(sorted(Object.keys(SOURCE_KINDS))).toEqual(sorted(SOURCE_KIND_NAMES));
    expect(sorted(Object.keys(SOURCE_READERS))).toEqual(sorted(SOURCE_KIND_NAMES));
    expect(sorted(Object.keys(SOURCE_ARRIVAL))).toEqual(sorted(SOURCE_KIND_NAMES));
    expect(PUSHED_SOURCE_KINDS).toEqual(['upload']);
  });

  it("the create body's kinds are the creatable kinds, each with its registry part", () => {
    const options = CreateSource.options.map((o) => o.shape.kind.value);
    expect(sorted(options)).toEqual(sorted(CREATABLE_SOURCE_KINDS));
    for (const o of CreateSource.options) expect(Object.keys(o.shape)).toContain(o.shape.kind.value);
  });

  it('the PATCH body has a part for each kind with settings to change, and for no other kind', () => {
    const keys = Object.keys(UpdateSource.shape);
    expect(sorted(keys.filter((k) => (SOURCE_KIND_NAMES as string[]).includes(k)))).toEqual(sorted(PATCHABLE_SOURCE_KINDS));
  });

  it('each pipeline kind has a pure entry and a runner, and both bodies know it', () => {
    expect(sorted(Object.keys(PIPELINE_KINDS))).toEqual(sorted(PIPELINE_KIND_NAMES));
    expect(sorted(Object.keys(PIPELINE_RUNNERS))).toEqual(sorted(PIPELINE_KIND_NAMES));
    expect(sorted(CreatePipeline.shape.kind.options)).toEqual(sorted(PIPELINE_KIND_NAMES));
    for (const k of PIPELINE_KIND_NAMES) {
      expect(Object.keys(CreatePipeline.shape)).toContain(k);
      expect(Object.keys(UpdatePipeline.shape)).toContain(k);
    }
  });

  it('a stored connection or config names its kind; an unknown one is refused, never taken for another kind', () => {
    // Settings each kind's schema accepts (a new kind adds its own).
    const sourceSettings: { [K in SourceKind]: unknown } = {
      s3: { bucket: 'data' },
      filesystem: { path: '/srv' },
      upload: {},
      azure: { account: 'acct', container: 'data' },
      gcs: { bucket: 'data', prefix: 'in/' },
      postgres: { host: 'db.example.com', database: 'app', user: 'reader', table: 'docs' },
      sftp: { host: 'sftp.example.com', username: 'reader', hostKey: `SHA256:${'A'.repeat(43)}` },
    };
    const pipelineSettings: { [K in PipelineKind]: unknown } = { fulltext: {}, webhook: { url: 'https://example.com/hook' }, embedding: {} };
    for (const kind of SOURCE_KIND_NAMES) {
      const stored = { [kind]: SOURCE_KINDS[kind].settings.parse(sourceSettings[kind]) };
      expect(sourceKindOf(stored as SourceConnection)).toBe(kind);
    }
    for (const kind of PIPELINE_KIND_NAMES) {
      const stored = { [kind]: PIPELINE_KINDS[kind].config.parse(pipelineSettings[kind]) };
      expect(pipelineKindOf(stored as never)).toBe(kind);
    }
    expect(() => sourceKindOf({ dropbox: {} } as never)).toThrow(/unhandled source connection/);
    expect(() => pipelineKindOf({ ocr: {} } as never)).toThrow(/unhandled pipeline config/);
    expect(() => assertNever('x' as never)).toThrow('unhandled kind: "x"');
  });
});

describe('source kinds', () => {
  const s3Stored: SourceConnection = { s3: { bucket: 'data', region: 'us-east-1', prefix: 'in/', forcePathStyle: true, endpoint: 'https://s3.example.com' } };

  it('an s3 create part splits into stored settings and credentials, the session token only when given', () => {
    const part = SOURCE_KINDS.s3.create.input.parse({ bucket: 'data', accessKeyId: 'AK', secretAccessKey: 'SK' });
    const made = createConnection('s3', { s3: part });
    expect(made.connection).toEqual({ s3: { bucket: 'data', region: 'us-east-1', prefix: '', forcePathStyle: true } });
    expect(made.credentials).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK' });
    const sts = createConnection('s3', { s3: { ...part, sessionToken: 'TOK' } });
    expect(sts.credentials).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'TOK' });
  });

  it('a filesystem create part has no credentials', () => {
    const made = createConnection('filesystem', { filesystem: { path: '/srv/data' } });
    expect(made).toMatchObject({ connection: { filesystem: { path: '/srv/data' } }, credentials: null });
  });

  it('the upload kind is never created through the API', () => {
    expect(SOURCE_KINDS.upload.create).toBeNull();
    expect(() => createConnection('upload', {})).toThrow(/not created/);
  });

  it('an s3 PATCH part merges settings; new keys replace the old whole, dropping a session token not given again', () => {
    const prefixOnly = patchConnection(s3Stored, { s3: { prefix: 'out/' } });
    expect(prefixOnly).toMatchObject({ connection: { s3: { ...s3Stored.s3, prefix: 'out/' } }, credentials: null });
    const rekeyed = patchConnection(s3Stored, { s3: { accessKeyId: 'AK2', secretAccessKey: 'SK2' } });
    expect(rekeyed).toMatchObject({ connection: s3Stored, credentials: { accessKeyId: 'AK2', secretAccessKey: 'SK2' } });
  });

  it('a PATCH part for another kind is refused, naming the first such part; a body with no kind part changes no connection', () => {
    expect(patchConnection(s3Stored, { filesystem: { path: '/x' } })).toEqual({ wrongKind: 'filesystem' });
    expect(patchConnection({ filesystem: { path: '/a' } }, { s3: { prefix: 'p' }, filesystem: { path: '/b' } })).toEqual({ wrongKind: 's3' });
    expect(patchConnection({ upload: {} }, { s3: { prefix: 'p' } })).toEqual({ wrongKind: 's3' });
    expect(patchConnection(s3Stored, {})).toBeNull();
    expect(patchConnection({ upload: {} }, {})).toBeNull();
  });

  it('the edge checks an s3 endpoint only when one is sent, and a filesystem path as it will be stored', async () => {
    const e = edge({ url: 'http://10.0.0.1', dir: '/gone' });
    const prefixOnly = patchConnection(s3Stored, { s3: { prefix: 'p' } });
    expect(prefixOnly && 'check' in prefixOnly ? await prefixOnly.check(e.checks) : 'no change').toBeNull();
    expect(
      await createConnection('s3', {
        s3: { ...SOURCE_KINDS.s3.create.input.parse({ bucket: 'data', accessKeyId: 'A', secretAccessKey: 'S' }), endpoint: 'http://10.0.0.1' },
      }).check(e.checks),
    ).toEqual({
      field: 's3.endpoint',
      problem: 'is refused',
    });
    const fsPatch = patchConnection({ filesystem: { path: '/gone' } }, { filesystem: {} });
    expect(fsPatch && 'check' in fsPatch ? await fsPatch.check(e.checks) : 'no change').toEqual({ field: 'filesystem.path', problem: 'does not exist' });
    expect(e.asked).toEqual(['url http://10.0.0.1', 'dir /gone']);
  });

  it("each kind's part of the API's view: s3 says whether credentials are set, upload adds nothing", () => {
    expect(connectionJson(kindedConnection(s3Stored), true)).toEqual({ s3: { ...s3Stored.s3, credentialsSet: true } });
    expect(connectionJson(kindedConnection({ filesystem: { path: '/srv' } }), false)).toEqual({ filesystem: { path: '/srv' } });
    expect(connectionJson(kindedConnection({ upload: {} }), false)).toEqual({});
  });
});

describe('pipeline kinds', () => {
  const hook = { url: 'https://example.com/hook', timeoutSeconds: 10, maxAttempts: 5, urlExpiresInSeconds: 3600 };

  it('a fulltext pipeline created without settings takes the defaults; a webhook one splits off its secret', () => {
    expect(createPipelineConfig('fulltext', {})).toMatchObject({ config: { fulltext: { maxBytes: 1024 * 1024, language: 'english' } }, secret: null });
    const made = createPipelineConfig('webhook', { webhook: { ...hook, secret: 'a-secret-of-16-chars' } });
    expect(made).toMatchObject({ config: { webhook: hook }, secret: 'a-secret-of-16-chars' });
    expect(made.check({ urlProblem: (u) => (u === hook.url ? 'is refused' : null) })).toEqual({ field: 'webhook.url', problem: 'is refused' });
  });

  it('changing what fulltext extracts re-runs it; renaming a webhook or rotating its secret does not', () => {
    const fulltext = { fulltext: { maxBytes: 1000, language: 'english' as const } };
    expect(patchPipelineConfig(fulltext, { fulltext: { language: 'german' } })).toMatchObject({
      config: { fulltext: { maxBytes: 1000, language: 'german' } },
      reruns: true,
    });
    expect(patchPipelineConfig(fulltext, { fulltext: { maxBytes: 1000 } })).toMatchObject({ reruns: false });
    expect(patchPipelineConfig({ webhook: hook }, { webhook: { secret: 'another-secret-16ch' } })).toMatchObject({
      config: { webhook: hook },
      secret: 'another-secret-16ch',
      reruns: false,
    });
    expect(patchPipelineConfig({ webhook: hook }, { fulltext: { maxBytes: 5 } })).toEqual({ wrongKind: 'fulltext' });
    expect(patchPipelineConfig(fulltext, {})).toBeNull();
  });

  it("each kind's part of the API's view never shows a secret", () => {
    expect(configJson(kindedConfig({ webhook: hook }), true)).toEqual({ webhook: { ...hook, secretSet: true } });
    expect(configJson(kindedConfig({ fulltext: { maxBytes: 1, language: 'simple' } }), false)).toEqual({ fulltext: { maxBytes: 1, language: 'simple' } });
  });

  it("a create body must carry the part of a kind that requires one, and no other kind's part", () => {
    expect(CreatePipeline.safeParse({ name: 'w', kind: 'webhook' }).error?.issues.map((i) => i.path.join('.'))).toEqual(['webhook']);
    expect(
      CreatePipeline.safeParse({ name: 'f', kind: 'fulltext', webhook: { ...hook, secret: 'a-secret-of-16-chars' } }).error?.issues.map((i) => i.message),
    ).toEqual(['does not apply to a fulltext pipeline']);
    expect(CreatePipeline.safeParse({ name: 'f', kind: 'fulltext' }).success).toBe(true);
  });
});
