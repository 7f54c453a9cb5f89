import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBuckets } from './commands/buckets.js';
import { registerJobs } from './commands/jobs.js';
import { registerKeys } from './commands/keys.js';
import { registerSources } from './commands/sources.js';
import { registerSearch } from './commands/search.js';
import { registerStatus } from './commands/status.js';
import { registerSync } from './commands/sync.js';
import { DEFAULT_URL, DEV_TOKEN_FILE } from './config.js';
import type { Io } from './context.js';
import { EXIT, UsageError } from './errors.js';
import { renderError } from './output.js';

/** The package's version, whether this runs from source (cli/) or compiled (dist/cli/). */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lakesync' && pkg.version) return pkg.version;
    } catch {
      // not here; try one level up
    }
  }
  return 'unknown';
}

function buildProgram(io: Io): Command {
  const program = new Command('lakesync')
    .description('Command-line client of the lakesync REST API.')
    .version(version())
    .option('--url <url>', `lakesync API base URL (env LAKESYNC_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', `bearer token (env LAKESYNC_TOKEN, else ./${DEV_TOKEN_FILE} when present)`)
    .option('--json', 'print the API response JSON exactly as it came, for scripts')
    .addHelpText('after', '\nExit codes: 0 success, 1 the API or a job failed, 2 usage error.')
    // Set before any subcommand is added: commander copies these settings into each one.
    .exitOverride()
    // List subcommands by their usage line, which names `[bucket] <sourceId>` rather than `[args...]`.
    .configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}` })
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');
  registerBuckets(program, io);
  registerKeys(program, io);
  registerSources(program, io);
  registerSync(program, io);
  registerStatus(program, io);
  registerJobs(program, io);
  registerSearch(program, io);
  return program;
}

/** Runs one command line and returns the process's exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // Commander has already printed its own message (or the help it was asked for).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    io.stderr.write(renderError(err, argv.includes('--json')));
    if (err instanceof UsageError) io.stderr.write('(add --help for usage)\n');
    const code = (err as { exitCode?: unknown }).exitCode;
    return typeof code === 'number' ? code : EXIT.failed;
  }
}
