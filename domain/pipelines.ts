/**
 * Pipelines (what happens to a stored object) and rules (which objects go to
 * which pipelines), as stored and as the API accepts them. A webhook's signing
 * secret travels separately and is sealed at rest, like source credentials.
 */
import { z } from 'zod';
import { text } from './text.js';
import { contentTypeOf, globs, mimeMatches } from './filters.js';
import { Glob, MimePattern } from './source-config.js';

/** Postgres's built-in text search configurations. */
export const TEXT_SEARCH_LANGUAGES = [
  'simple',
  'arabic',
  'danish',
  'dutch',
  'english',
  'finnish',
  'french',
  'german',
  'greek',
  'hungarian',
  'indonesian',
  'irish',
  'italian',
  'lithuanian',
  'nepali',
  'norwegian',
  'portuguese',
  'romanian',
  'russian',
  'spanish',
  'swedish',
  'tamil',
  'turkish',
] as const;

export const FulltextConfigSchema = z
  .object({
    /** Bytes of each object read for indexing; longer objects are indexed up to this much. */
    maxBytes: z
      .number()
      .int()
      .min(1)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    language: z.enum(TEXT_SEARCH_LANGUAGES).default('english'),
  })
  .strict();

export const WebhookConfigSchema = z
  .object({
    url: text()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL'),
    timeoutSeconds: z.number().int().min(1).max(300).default(10),
    /** Deliveries tried per object before it is marked failed. */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /** Lifetime of the signed object URL sent with each delivery. */
    urlExpiresInSeconds: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();

export type FulltextConfig = z.infer<typeof FulltextConfigSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

/** The HMAC key a webhook's deliveries are signed with: write-only. */
export const WebhookSecret = text().min(16, 'must be at least 16 characters').max(512);

export const RuleMatchSchema = z
  .object({
    /** Only objects from these sources (default: every source of the bucket). */
    sourceIds: z.array(text().min(1).max(64)).max(100).optional(),
    /** Globs over the lake key; slash-free ones match the base name at any depth. */
    includePatterns: z.array(Glob).max(100).optional(),
    excludePatterns: z.array(Glob).max(100).optional(),
    mimeTypes: z.array(MimePattern).max(100).optional(),
  })
  .strict();
export type RuleMatch = z.infer<typeof RuleMatchSchema>;

export interface RoutableObject {
  sourceId: string;
  lakeKey: string;
}

/** Compiles a rule's match into one predicate; an empty match selects everything. */
export function compileRuleMatch(m: RuleMatch): (o: RoutableObject) => boolean {
  const sources = m.sourceIds?.length ? new Set(m.sourceIds) : null;
  const include = m.includePatterns?.length ? globs(m.includePatterns) : null;
  const exclude = m.excludePatterns?.length ? globs(m.excludePatterns) : null;
  const mimes = m.mimeTypes?.length ? m.mimeTypes.map((t) => t.toLowerCase()) : null;
  return (o) => {
    if (sources && !sources.has(o.sourceId)) return false;
    if (include && !include(o.lakeKey)) return false;
    if (exclude && exclude(o.lakeKey)) return false;
    if (mimes && !mimeMatches(mimes, contentTypeOf(o.lakeKey))) return false;
    return true;
  };
}

export interface RoutingRule {
  id: string;
  pipelineIds: string[];
  match: RuleMatch;
}

/** Every enabled rule of a bucket, compiled: which pipelines an object goes to. */
export function compileRouting(rules: RoutingRule[], enabledPipelines: Set<string>): (o: RoutableObject, onlyRule?: string | null) => string[] {
  const compiled = rules.map((r) => ({ id: r.id, pipelineIds: r.pipelineIds.filter((p) => enabledPipelines.has(p)), test: compileRuleMatch(r.match) }));
  return (o, onlyRule) => {
    const selected = new Set<string>();
    for (const r of compiled) {
      if (onlyRule && r.id !== onlyRule) continue;
      if (r.test(o)) for (const p of r.pipelineIds) selected.add(p);
    }
    return [...selected].sort();
  };
}
