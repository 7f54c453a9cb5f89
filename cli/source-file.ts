import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { errorMessage } from '../domain/error-text.js';
import { UsageError } from './errors.js';

/**
 * Only the file's form is checked here: the API validates every field and
 * names the one that is wrong, so its schema stays the single source of truth.
 */
const SourceDocument = z.record(z.string(), z.unknown(), { error: 'must be a mapping of source settings (JSON object or YAML mapping)' });

/** Reads a source definition from a .json, .yaml or .yml file, or `-` for standard input (JSON or YAML). */
export async function readSourceFile(path: string, stdin: () => Promise<string> = readStdin): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = path === '-' ? await stdin() : await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--file ${path}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  let doc: unknown;
  try {
    doc = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new UsageError(`--file ${path}: is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML or JSON'}: ${errorMessage(err)}`);
  }
  const parsed = SourceDocument.safeParse(doc);
  if (!parsed.success) throw new UsageError(`--file ${path}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
