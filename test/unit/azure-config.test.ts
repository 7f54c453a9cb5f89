import { describe, expect, it } from 'vitest';
import { CreateSource, UpdateSource } from '../../api/routes/source-schemas.js';
import { parseConnectionString } from '../../domain/azure-config.js';
import {
  connectionJson,
  createConnection,
  kindedConnection,
  movedCredentialsProblem,
  patchConnection,
  SOURCE_KINDS,
  type ConnectionChange,
  type EdgeChecks,
  type SourceConnection,
} from '../../domain/source-kinds.js';

const KEY = 'c2VjcmV0LWtleS1ieXRlcw==';
const SAS = 'sv=2025-01-05&sp=rl&sig=abc%2Bdef';
const refusing = (bad: string): EdgeChecks => ({ urlProblem: (u) => (u === bad ? 'is refused' : null), sourceDirProblem: async () => null });
const problems = (body: unknown) => CreateSource.safeParse(body).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

describe('azure source settings', () => {
  it('splits the account key or SAS token off the create part, to be sealed', () => {
    const keyed = createConnection('azure', { azure: SOURCE_KINDS.azure.create.input.parse({ account: 'acct', container: 'data', accountKey: KEY }) });
    expect(keyed.connection).toEqual({ azure: { account: 'acct', container: 'data', prefix: '' } });
    expect(keyed.credentials).toEqual({ accountKey: KEY });
    const sas = createConnection('azure', { azure: SOURCE_KINDS.azure.create.input.parse({ account: 'acct', container: 'data', sasToken: `?${SAS}` }) });
    expect(sas.credentials).toEqual({ sasToken: SAS });
  });

  it('reads a connection string into the account, the endpoint (stored, so it is checked) and the credential', () => {
    expect(parseConnectionString(`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`)).toEqual({
      account: 'acct',
      endpoint: 'https://acct.blob.core.windows.net',
      credentials: { accountKey: KEY },
    });
    expect(parseConnectionString(`BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=${SAS}`)).toEqual({
      account: 'acct',
      endpoint: 'https://acct.blob.core.windows.net',
      credentials: { sasToken: SAS },
    });
    // An emulator's endpoint is path style: the account is its first segment.
    expect(parseConnectionString(`BlobEndpoint=http://127.0.0.1:10000/devacct;AccountKey=${KEY}`)).toMatchObject({
      account: 'devacct',
      endpoint: 'http://127.0.0.1:10000/devacct',
    });
    const made = createConnection('azure', {
      azure: SOURCE_KINDS.azure.create.input.parse({
        container: 'data',
        connectionString: `AccountName=acct;AccountKey=${KEY};BlobEndpoint=http://10.0.0.1/acct`,
      }),
    });
    expect(made.connection).toEqual({ azure: { account: 'acct', container: 'data', prefix: '', endpoint: 'http://10.0.0.1/acct' } });
    expect(made.credentials).toEqual({ accountKey: KEY });
  });

  it('names what is wrong with a connection string without quoting it', () => {
    for (const bad of [
      'nonsense',
      `AccountName=acct`,
      `AccountName=acct;AccountKey=${KEY};SharedAccessSignature=${SAS}`,
      'AccountName=acct;AccountKey=not base64!',
    ]) {
      const problem = parseConnectionString(bad);
      expect(typeof problem, bad).toBe('string');
      expect(problem).not.toContain('base64!');
    }
  });

  it('takes exactly one credential on create and at most one on PATCH, naming the field', () => {
    const base = { name: 'n', kind: 'azure' };
    expect(problems({ ...base, azure: { account: 'acct', container: 'data' } })).toEqual([
      'azure.accountKey: give exactly one of accountKey, sasToken and connectionString',
    ]);
    expect(problems({ ...base, azure: { account: 'acct', container: 'data', accountKey: KEY, sasToken: SAS } })).toHaveLength(1);
    expect(problems({ ...base, azure: { container: 'data', accountKey: KEY } })).toEqual(['azure.account: is required']);
    expect(problems({ ...base, azure: { account: 'other', container: 'data', connectionString: `AccountName=acct;AccountKey=${KEY}` } })).toEqual([
      'azure.account: is not the account the connection string names',
    ]);
    expect(problems({ ...base, azure: { account: 'acct', container: 'data', sasToken: 'no-signature' } })[0]).toMatch(/^azure.sasToken: must be a SAS token/);
    expect(problems({ ...base, azure: { account: 'acct', container: 'Bad_Name', accountKey: KEY } })[0]).toMatch(/^azure.container/);
    expect(UpdateSource.safeParse({ azure: { accountKey: KEY, sasToken: SAS } }).success).toBe(false);
    expect(UpdateSource.safeParse({ azure: { prefix: 'p/' } }).success).toBe(true);
  });

  it('a PATCH merges settings and replaces the sealed credential only when it gives one', () => {
    const stored = { azure: { account: 'acct', container: 'data', prefix: 'in/', endpoint: 'https://acct.blob.core.windows.net' } };
    expect(patchConnection(stored, { azure: { prefix: 'out/' } })).toMatchObject({
      connection: { azure: { ...stored.azure, prefix: 'out/' } },
      credentials: null,
    });
    expect(patchConnection(stored, { azure: { sasToken: SAS } })).toMatchObject({ connection: stored, credentials: { sasToken: SAS } });
    expect(patchConnection(stored, { s3: { prefix: 'x' } })).toEqual({ wrongKind: 's3' });
  });

  it('a PATCH that moves where the sealed credential goes (endpoint, or account under the default endpoint) must give one again', () => {
    const moved = (stored: SourceConnection, part: object) => movedCredentialsProblem(stored, patchConnection(stored, { azure: part }) as ConnectionChange);
    const byDefault: SourceConnection = { azure: { account: 'acct', container: 'data', prefix: '' } };
    const refused = { field: 'azure.accountKey', problem: expect.stringContaining('credentials again') };
    expect(moved(byDefault, { account: 'other' })).toEqual(refused);
    expect(moved(byDefault, { endpoint: 'https://evil.example' })).toEqual(refused);
    expect(moved(byDefault, { endpoint: 'https://acct.blob.core.windows.net' })).toBeNull();
    expect(moved(byDefault, { prefix: 'p/', container: 'other' })).toBeNull();
    expect(moved(byDefault, { account: 'other', accountKey: KEY })).toBeNull();
    expect(moved(byDefault, { connectionString: `AccountName=other;AccountKey=${KEY}` })).toBeNull();
  });

  it('checks the endpoint when the part sets it, directly or through a connection string', async () => {
    const edge = refusing('http://10.0.0.1/acct');
    const direct = createConnection('azure', { azure: { account: 'acct', container: 'data', prefix: '', endpoint: 'http://10.0.0.1/acct', accountKey: KEY } });
    expect(await direct.check(edge)).toEqual({ field: 'azure.endpoint', problem: 'is refused' });
    const viaString = createConnection('azure', {
      azure: { container: 'data', prefix: '', connectionString: `BlobEndpoint=http://10.0.0.1/acct;AccountKey=${KEY}` },
    });
    expect(await viaString.check(edge)).toEqual({ field: 'azure.connectionString', problem: 'is refused' });
    const stored = { azure: { account: 'acct', container: 'data', prefix: '', endpoint: 'http://10.0.0.1/acct' } };
    const prefixOnly = patchConnection(stored, { azure: { prefix: 'p/' } });
    expect(prefixOnly && 'check' in prefixOnly ? await prefixOnly.check(edge) : 'no change').toBeNull();
  });

  it("the API's view says whether credentials are set, and never shows them", () => {
    const view = connectionJson(kindedConnection({ azure: { account: 'acct', container: 'data', prefix: '' } }), true);
    expect(view).toEqual({ azure: { account: 'acct', container: 'data', prefix: '', credentialsSet: true } });
  });
});
