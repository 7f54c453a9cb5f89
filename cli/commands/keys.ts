import { InvalidArgumentError, type Command } from 'commander';
import type { CreatedServiceAccountKey, Page, ServiceAccountKey } from '../api-types.js';
import { seg } from '../client.js';
import { contextOf, pageSizeOption, type Io } from '../context.js';
import { keyFields, keyTable, pageFooter } from '../views.js';

const SCOPES = ['read', 'write', 'admin'];
const NOT_AGAIN = 'Save the secret access key now: it will not be shown again.';

/** `--scope read,write` or `--scope read --scope write`. */
function scopeOption(v: string, previous: string[] = []): string[] {
  const given = v.split(',').map((s) => s.trim().toLowerCase());
  for (const s of given) if (!SCOPES.includes(s)) throw new InvalidArgumentError(`must be ${SCOPES.join(', ')} (comma-separated or repeated)`);
  return [...new Set([...previous, ...given])];
}

const repeated = (v: string, previous: string[] = []): string[] => [...previous, v];

export function registerKeys(program: Command, io: Io): void {
  const keys = program.command('keys').description('service-account keys of your organisation (access key id and secret for S3 clients)');

  keys
    .command('create')
    .description('create a key; its secret is printed once, never again')
    .requiredOption('--scope <scopes>', 'what the key may do: read, write, admin (comma-separated or repeated)', scopeOption)
    .option('--bucket <name>', 'limit the key to this bucket (repeat for several; default: every bucket)', repeated)
    .option('--description <text>', 'what the key is for')
    .action(async (o: { scope: string[]; bucket?: string[]; description?: string }, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const key = await ctx.client.post<CreatedServiceAccountKey>('/admin/keys', { scopes: o.scope, buckets: o.bucket, description: o.description });
      ctx.show(key, () => `${keyFields(key)}\n${NOT_AGAIN}\n`);
      // --json prints the answer alone on stdout; the warning still reaches the person.
      if (ctx.json) io.stderr.write(`${NOT_AGAIN}\n`);
    });

  keys
    .command('list')
    .description('list keys that are not revoked (never their secrets)')
    .option('--page-size <n>', 'keys per page (API default 50)', pageSizeOption)
    .option('--page-token <token>', 'the next page, from a previous list')
    .action(async (o: { pageSize?: number; pageToken?: string }, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const page = await ctx.client.get<Page & { keys: ServiceAccountKey[] }>('/admin/keys', { page_size: o.pageSize, page_token: o.pageToken });
      ctx.show(page, () => keyTable(page.keys) + pageFooter(page, page.keys.length));
    });

  keys
    .command('get')
    .description('show one key (never its secret)')
    .argument('<accessKeyId>', 'access key id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      const key = await ctx.client.get<ServiceAccountKey>(`/admin/keys/${seg(id)}`);
      ctx.show(key, () => keyFields(key));
    });

  keys
    .command('revoke')
    .description('revoke a key, at once and for good')
    .argument('<accessKeyId>', 'access key id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = await contextOf(cmd, io);
      await ctx.client.delete(`/admin/keys/${seg(id)}`);
      ctx.done(`revoked key ${id}`);
    });
}
