/**
 * Every "error to text" rule, in one place. Which one to use depends on who
 * reads the text: a person at a terminal, storage and failures (no query
 * parameters, bounded), or the worker's log (the whole cause chain).
 */
import { scrubErrorText } from './log-redaction.js';

/** The error's message, or the thrown value itself: for a person (the CLI, start-up failures, a problem in a 400). */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A message fit for storage or a failure: `Name: message`, without query parameters. */
export const safeErrorText = (err: unknown): string => (err instanceof Error ? scrubErrorText(`${err.name}: ${err.message}`, err) : String(err));

/** What a dead letter or a pipeline run stores as its error: the safe text, at most 1000 characters. */
export const storedErrorText = (err: unknown): string => safeErrorText(err).slice(0, 1000);

/** An error's own text and its causes' codes, for the worker's log (never for the tenant in strict mode). */
export function errorDetail(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const x = e as { name?: string; code?: string; message?: string };
    parts.push(`${x.name ?? 'Error'}${x.code ? ` (${x.code})` : ''}: ${x.message ?? String(e)}`);
    e = typeof e === 'object' ? (e as { cause?: unknown }).cause : undefined;
  }
  return parts.join(' <- ').slice(0, 1000);
}
