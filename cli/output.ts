import { ApiRequestError, type ApiErrorBody } from './errors.js';
import { errorMessage } from '../domain/error-text.js';
import { escapeControl } from '../domain/text.js';

export interface Writer {
  write(chunk: string): unknown;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Cells longer than this are cut with an ellipsis, so one long error does not wrap a whole table. */
  max?: number;
}

const cut = (s: string, max: number | undefined): string => (max !== undefined && s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * A value from the API made safe to print: control characters (C0 with
 * ESC, BEL, backspace, CR and newline; DEL; C1 with CSI) and unpaired
 * surrogates are written out as `\u{1b}`, so a name can neither drive the
 * terminal nor forge a line of output.
 */
export const inert = escapeControl;

/** Text of several lines, each made inert: the net under every human-readable output. */
export const inertLines = (s: string): string => s.split('\n').map(inert).join('\n');

/** Left-aligned columns separated by two spaces, headers in capitals. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => cut(inert(c.value(row).replace(/\s+/g, ' ')), c.max)));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** `label: value` lines with the values aligned; undefined values are left out. */
export function renderFields(fields: readonly [string, string | undefined][]): string {
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${inert(v)}`).join('\n') + '\n';
}

export const renderJson = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/** K3 timestamps are epoch milliseconds as strings; show them as ISO 8601. */
export function fromMillis(ms: string | number | null | undefined): string {
  if (ms === null || ms === undefined || ms === '') return '-';
  const n = Number(ms);
  return Number.isFinite(n) ? new Date(n).toISOString() : String(ms);
}

export const orDash = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));

export function formatBytes(n: number | string | null | undefined): string {
  const v = Number(n ?? 0);
  if (!Number.isFinite(v) || v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(1)} ${units[i]}`;
}

/** The API's error as it came (`--json`), or its message and the fields it names. */
export function renderError(err: unknown, json: boolean): string {
  if (err instanceof ApiRequestError) {
    if (json) return renderJson(err.body);
    return renderApiError(err.status, err.body);
  }
  return `error: ${inert(errorMessage(err))}\n`;
}

function renderApiError(status: number, body: ApiErrorBody): string {
  const details = (body.details ?? []).filter((d) => !body.message.includes(`${d.field}: ${d.problem}`));
  return (
    [
      `error: ${inert(String(body.message))} (${inert(String(body.code))}, HTTP ${status})`,
      ...details.map((d) => `  ${inert(String(d.field))}: ${inert(String(d.problem))}`),
    ].join('\n') + '\n'
  );
}
