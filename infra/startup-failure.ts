/**
 * A start-up step that failed, with the part of lakesync it started named, so
 * the terminal says which one and why in a line, with the detail after it.
 */
import { errorMessage } from '../domain/error-text.js';
import { StateDirLocked } from './state-lock.js';

export class StartupFailure extends Error {
  constructor(
    readonly component: string,
    cause: unknown,
    readonly hint?: string,
  ) {
    super(`${component}: ${errorMessage(cause)}`, { cause });
  }
}

/** Runs one start-up step; its failure carries `component` (and what the user can change, `hint`). */
export async function startStep<T>(component: string, step: () => Promise<T>, hint?: string): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw err instanceof StartupFailure ? err : new StartupFailure(component, err, hint);
  }
}

/** Why, in a few words, for the errors a start meets most (a taken port, a refused connection); else the error's first line. */
function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const text = errorMessage(err);
  if (err instanceof StateDirLocked) return text;
  if (e?.code === 'EADDRINUSE' || /address already in use/i.test(text)) {
    const bound =
      e?.port !== undefined
        ? { address: e.address, port: String(e.port) }
        : /(?<address>[\d.]+|\[[\d:a-f]*\]|localhost):(?<port>\d+): bind: address already in use/i.exec(text)?.groups;
    return bound
      ? `port ${bound.port}${bound.address ? ` on ${bound.address}` : ''} is already in use by another program`
      : 'a port it needs is already in use';
  }
  if (e?.code === 'ECONNREFUSED') return `nothing answers at ${e.address ?? ''}${e.port ? `:${e.port}` : ''} (connection refused)`;
  // "invalid environment:" says little alone: a list's first items come with it.
  const lines = text.split('\n');
  return (
    lines[0]!.endsWith(':')
      ? lines
          .slice(0, 4)
          .map((l) => l.trim())
          .join(' ')
      : lines[0]!
  ).slice(0, 300);
}

/** The summary line and the detail after it, for a failure of any kind. */
export function describeStartupFailure(err: unknown): { summary: string; detail: string } {
  const failure = err instanceof StartupFailure ? err : undefined;
  const cause = failure ? failure.cause : err;
  const summary = `${failure ? `${failure.component}: ` : ''}${why(cause)}${failure?.hint ? ` (${failure.hint})` : ''}`;
  const details: string[] = [];
  // A locked directory is said in full by the summary: no stack to add.
  let e: unknown = cause instanceof StateDirLocked ? undefined : cause;
  for (let depth = 0; e !== undefined && depth < 4; depth++) {
    details.push((depth ? 'caused by: ' : '') + (e instanceof Error ? (e.stack ?? e.message) : String(e)));
    e = e instanceof Error ? e.cause : undefined;
  }
  return { summary, detail: details.join('\n') };
}
