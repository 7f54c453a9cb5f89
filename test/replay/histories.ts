import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils.js';

/**
 * Recorded histories: one folder per recording, named after the commit it was
 * recorded on (older recordings stay), one JSON file per workflow run, named
 * `<workflowType>-<n>.json`.
 */
export const HISTORIES_DIR = fileURLToPath(new URL('./histories', import.meta.url));

export interface RecordedHistory {
  file: string;
  workflowType: string;
  history: History;
}

export async function recordedHistories(): Promise<RecordedHistory[]> {
  const files = (await readdir(HISTORIES_DIR, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      file,
      workflowType: basename(file).replace(/-\d+\.json$/, ''),
      history: historyFromJSON(JSON.parse(await readFile(join(HISTORIES_DIR, file), 'utf8'))),
    })),
  );
}
