/**
 * Text a fulltext pipeline can index: plain text, Markdown, CSV, JSON and
 * HTML become plain text; anything else is not text-like and is skipped.
 */
import { convert } from 'html-to-text';
import { extname } from 'node:path';

export type TextFormat = 'plain' | 'markdown' | 'csv' | 'json' | 'html';

const BY_TYPE: Record<string, TextFormat> = {
  'text/plain': 'plain',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/csv': 'csv',
  'text/tab-separated-values': 'csv',
  'application/json': 'json',
  'application/ld+json': 'json',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
};

const BY_EXTENSION: Record<string, TextFormat> = {
  '.txt': 'plain',
  '.text': 'plain',
  '.log': 'plain',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.csv': 'csv',
  '.tsv': 'csv',
  '.json': 'json',
  '.html': 'html',
  '.htm': 'html',
};

/** The text format of an object, from its extension first (stores often label text as octet-stream), else its content type. */
export function textFormatOf(key: string, contentType: string | null | undefined): TextFormat | null {
  const byExt = BY_EXTENSION[extname(key).toLowerCase()];
  if (byExt) return byExt;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (BY_TYPE[type]) return BY_TYPE[type];
  return type.startsWith('text/') ? 'plain' : null;
}

/** NUL bytes do not occur in text: such content is binary whatever its name says. */
export const looksBinary = (bytes: Buffer): boolean => bytes.subarray(0, 8192).includes(0);

/** Plain text from an object's (possibly truncated) bytes. */
export function extractText(bytes: Buffer, format: TextFormat): string {
  // A truncated read may end inside a multi-byte character; the decoder replaces it.
  const raw = bytes.toString('utf8');
  switch (format) {
    case 'html':
      return convert(raw, {
        wordwrap: false,
        selectors: [
          { selector: 'a', options: { ignoreHref: true } },
          { selector: 'img', format: 'skip' },
        ],
      });
    case 'json':
      return jsonText(raw);
    case 'markdown':
      return stripMarkdown(raw);
    default:
      return raw;
  }
}

/** The strings and keys of a JSON document; a truncated or invalid one is indexed as it reads. */
function jsonText(raw: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    return raw;
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) {
        out.push(k);
        walk(child);
      }
  };
  walk(doc);
  return out.join('\n');
}

/** Markdown's markup is noise in snippets; its words are what matter. */
function stripMarkdown(raw: string): string {
  return raw
    .replace(/```[^\n]*\n/g, '')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+/gm, '')
    .replace(/(\*\*|__|\*|_|`)(\S[^*_`]*?)\1/g, '$2');
}
