/**
 * Bounds on a web-search query (websearch_to_tsquery syntax: words,
 * "quoted phrases", -exclusions, `or`). Matching cost grows with every term
 * and, worst, with every exclusion (which no index can answer), so a short
 * request must not buy minutes of database time.
 */
const SEARCH_LIMITS = { length: 512, terms: 32, negations: 8, phrases: 8, ors: 8 } as const;

/** The problem with a query, or null when it is within the limits. */
export function searchQueryProblem(query: string): string | null {
  if (query.length > SEARCH_LIMITS.length) return `must be at most ${SEARCH_LIMITS.length} characters`;
  // A term is a run of letters or digits: punctuation splits words into several lexemes for the text parser too.
  const words = query.match(/[\p{L}\p{N}]+/gu) ?? [];
  const ors = words.filter((w) => w.toLowerCase() === 'or').length;
  if (ors > SEARCH_LIMITS.ors) return `has more than ${SEARCH_LIMITS.ors} "or" operators`;
  if (words.length - ors > SEARCH_LIMITS.terms) return `has more than ${SEARCH_LIMITS.terms} terms`;
  const negations = query.match(/(?:^|\s)-(?=\S)/g)?.length ?? 0;
  if (negations > SEARCH_LIMITS.negations) return `has more than ${SEARCH_LIMITS.negations} excluded (-) terms`;
  const phrases = Math.ceil((query.match(/"/g)?.length ?? 0) / 2);
  if (phrases > SEARCH_LIMITS.phrases) return `has more than ${SEARCH_LIMITS.phrases} quoted phrases`;
  return null;
}
