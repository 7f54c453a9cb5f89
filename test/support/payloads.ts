/**
 * `temporal workflow show --output json` prints every payload (inputs,
 * results, memos, search attributes, failure details) as base64: a search of
 * that text for a secret would never look inside one. These are the payloads'
 * data, decoded.
 */
export function decodedPayloads(historyJson: string): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.data === 'string' && o.metadata && typeof o.metadata === 'object') out.push(Buffer.from(o.data, 'base64').toString('utf8'));
    Object.values(o).forEach(visit);
  };
  visit(JSON.parse(historyJson));
  return out;
}
