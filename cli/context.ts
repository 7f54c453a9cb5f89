import { InvalidArgumentError, type Command } from 'commander';
import { ApiClient } from './client.js';
import { resolveConfig } from './config.js';
import { UsageError } from './errors.js';
import { inertLines, renderJson, type Writer } from './output.js';

/** The process's surroundings, handed in so the program can be driven without a real terminal. */
export interface Io {
  stdout: Writer & { isTTY?: boolean };
  stderr: Writer;
  env: Record<string, string | undefined>;
  cwd: string;
}

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

export class Ctx {
  constructor(
    readonly client: ApiClient,
    readonly json: boolean,
    readonly io: Io,
  ) {}

  /** With --json the API's response exactly as it came; otherwise its human view, with no control character left in it. */
  show(response: unknown, human: () => string): void {
    this.io.stdout.write(this.json ? renderJson(response) : inertLines(human()));
  }

  /** A human-only confirmation line (--json prints the response, or nothing for 204). */
  done(message: string, response?: unknown): void {
    if (this.json) {
      if (response !== undefined) this.io.stdout.write(renderJson(response));
    } else this.io.stdout.write(inertLines(message) + '\n');
  }

  /** A live bar only makes sense for a person watching a terminal. */
  get interactive(): boolean {
    return !this.json && this.io.stdout.isTTY === true;
  }
}

export async function contextOf(cmd: Command, io: Io): Promise<Ctx> {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const config = await resolveConfig({ url: opts.url, token: opts.token }, io.env, io.cwd);
  return new Ctx(new ApiClient(config), opts.json === true, io);
}

/**
 * Sources and jobs belong to a bucket, named either by --bucket or as the
 * first positional argument: `sources get kb src_1` = `sources get src_1 --bucket kb`.
 */
export function bucketAndArgs(args: string[], bucketOption: string | undefined, names: string[]): { bucket: string; rest: string[] } {
  const [bucket, ...rest] = bucketOption !== undefined ? [bucketOption, ...args] : args;
  const wanted = ['bucket', ...names];
  if (bucket === undefined || rest.length < names.length) {
    const missing = wanted.slice(bucket === undefined ? 0 : 1 + rest.length);
    throw new UsageError(
      `missing required argument${missing.length > 1 ? 's' : ''}: ${missing.map((m) => `<${m}>`).join(' ')}${bucket === undefined ? ' (the bucket may also be given as --bucket)' : ''}`,
    );
  }
  if (rest.length > names.length)
    throw new UsageError(`too many arguments: expected ${wanted.map((m) => `<${m}>`).join(' ')}, got ${[bucket, ...rest].join(' ')}`);
  return { bucket, rest };
}

/** Commander hands options over as strings; a bad page size is a usage error before any request. */
export function pageSizeOption(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1000) throw new InvalidArgumentError('must be a whole number from 1 to 1000');
  return n;
}
