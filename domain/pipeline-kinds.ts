/**
 * PIPELINE_KINDS, the pure half of the pipeline kind registry: per kind, its
 * settings as stored (`pipelines.config`), the part of a create or PATCH body
 * named after it and the signing secret that splits off it to be sealed, its
 * part of the API's pipeline view, which changes re-run it over the objects
 * its rules select, and the tables it derives from objects (catalog/derived.ts
 * drops their rows). The runners (the worker half) are `activities/pipelines/runners.ts`.
 */
import { z } from 'zod';
import { assertNever, type PipelineKind } from './kinds.js';
import { patchOf } from './patch-of.js';
import { FulltextConfigSchema, WebhookConfigSchema, WebhookSecret, type FulltextConfig, type WebhookConfig } from './pipelines.js';
import type { FieldProblem } from './source-kinds.js';
import {
  EmbeddingConfigSchema,
  EmbeddingCreateInput,
  OpenAiEdgeCheck,
  EmbeddingPatchInput,
  embeddingSignature,
  type EmbeddingConfig,
} from './embeddings/config.js';

export const WebhookCreateInput = WebhookConfigSchema.extend({ secret: WebhookSecret }).strict();
export const FulltextPatchInput = patchOf(FulltextConfigSchema).strict();
export const WebhookPatchInput = patchOf(WebhookConfigSchema).extend({ secret: WebhookSecret.optional() }).strict();

/** Per kind: settings as stored, and the kind's part of a create and a PATCH body. */
interface PipelineKindTypeTable {
  fulltext: { config: FulltextConfig; create: FulltextConfig; patch: z.output<typeof FulltextPatchInput> };
  webhook: { config: WebhookConfig; create: z.output<typeof WebhookCreateInput>; patch: z.output<typeof WebhookPatchInput> };
  embedding: { config: EmbeddingConfig; create: z.output<typeof EmbeddingCreateInput>; patch: z.output<typeof EmbeddingPatchInput> };
}
// A kind missing from the table is one error here, not one at every use of the table.
const _everyKindTyped: { [K in PipelineKind]: unknown } = {} as PipelineKindTypeTable;
type Untyped = { config: never; create: never; patch: never };
export type PipelineKindTypes = { [K in PipelineKind]: K extends keyof PipelineKindTypeTable ? PipelineKindTypeTable[K] : Untyped };

export type PipelineSettings<K extends PipelineKind> = PipelineKindTypes[K]['config'];

/** Stored config JSON: the settings under the kind's name, e.g. `{ "fulltext": { … } }`. */
export type PipelineConfig = { [K in PipelineKind]: { [P in K]: PipelineSettings<P> } }[PipelineKind];

/** A config with its kind as a discriminant, as the registry's functions take it. */
export type KindedConfig<K extends PipelineKind = PipelineKind> = { [P in K]: { kind: P; config: PipelineSettings<P> } }[K];

export interface PipelineKindSpec<K extends PipelineKind> {
  config: z.ZodType<PipelineSettings<K>>;
  create: {
    input: z.ZodType<PipelineKindTypes[K]['create']>;
    /** Whether a create body must carry the kind's part (else its defaults apply). */
    required: boolean;
    /** The settings to store and the signing secret to seal (domain/secrets.ts), if the kind has one. */
    split(input: PipelineKindTypes[K]['create'] | undefined): { config: PipelineSettings<K>; secret: string | null };
  };
  patch: {
    input: z.ZodType<PipelineKindTypes[K]['patch']>;
    /**
     * The settings after the change, a new secret to seal when the part carries
     * one, and `dropSecret` when the stored one must go (it was given for a destination the change replaces).
     */
    apply(current: PipelineSettings<K>, part: PipelineKindTypes[K]['patch']): { config: PipelineSettings<K>; secret: string | null; dropSecret?: boolean };
  };
  /** The kind's fields in the API's view of a pipeline (never its secret). */
  json(config: PipelineSettings<K>, secretSet: boolean): object;
  /** Checks beyond the schema of the part the caller sent. */
  check(given: PipelineKindTypes[K]['create'] | PipelineKindTypes[K]['patch'], edge: { urlProblem(url: string): string | null }): FieldProblem | null;
  /** Whether a change of settings re-runs the pipeline over what its rules select (its results depend on them). */
  rerunsOnChange(before: PipelineSettings<K>, after: PipelineSettings<K>): boolean;
  /**
   * Tables holding what the kind derives from objects, keyed by (object_id,
   * pipeline_id); `lakeKeyed` when a row also records the lake key it was
   * derived at. catalog/derived.ts drops their rows wherever objects or
   * pipelines go.
   */
  derivedTables: readonly DerivedTable[];
}

export interface DerivedTable {
  table: string;
  lakeKeyed: boolean;
}

export const PIPELINE_KINDS = {
  fulltext: {
    config: FulltextConfigSchema,
    create: { input: FulltextConfigSchema, required: false, split: (input) => ({ config: input ?? FulltextConfigSchema.parse({}), secret: null }) },
    patch: { input: FulltextPatchInput, apply: (current, part) => ({ config: FulltextConfigSchema.parse({ ...current, ...part }), secret: null }) },
    json: (config) => ({ fulltext: config }),
    check: () => null,
    // Its text extraction changed: the index is rebuilt from the objects.
    rerunsOnChange: (before, after) => before.maxBytes !== after.maxBytes || before.language !== after.language,
    derivedTables: [{ table: 'fulltext_documents', lakeKeyed: true }],
  },
  webhook: {
    config: WebhookConfigSchema,
    create: {
      input: WebhookCreateInput,
      required: true,
      split: (input) => {
        if (!input) throw new Error('a webhook pipeline needs its webhook settings');
        const { secret, ...config } = input;
        return { config, secret };
      },
    },
    patch: {
      input: WebhookPatchInput,
      apply: (current, { secret, ...rest }) => ({ config: WebhookConfigSchema.parse({ ...current, ...rest }), secret: secret ?? null }),
    },
    json: (config, secretSet) => ({ webhook: { ...config, secretSet } }),
    check: (given, edge) => {
      const problem = given.url === undefined ? null : edge.urlProblem(given.url);
      return problem ? { field: 'webhook.url', problem } : null;
    },
    rerunsOnChange: () => false,
    // Deliveries leave nothing behind here: the receiver keeps what it makes of them.
    derivedTables: [],
  },
  embedding: {
    config: EmbeddingConfigSchema,
    create: {
      input: EmbeddingCreateInput,
      required: false,
      split: (input) => {
        if (!input) return { config: EmbeddingConfigSchema.parse({}), secret: null };
        if (input.provider === 'local') return { config: input, secret: null };
        const { apiKey, ...config } = input;
        return { config, secret: apiKey ?? null };
      },
    },
    patch: {
      input: EmbeddingPatchInput,
      apply: (current, { apiKey, ...part }) => {
        // Another provider: only what every provider has carries over. A chunking part replaces the whole chunking.
        const switching = part.provider !== undefined && part.provider !== current.provider;
        const base = switching ? { maxBytes: current.maxBytes, chunking: current.chunking } : current;
        const config = EmbeddingConfigSchema.parse({ ...base, ...part });
        if (config.provider === 'openai-compatible') OpenAiEdgeCheck.parse(config);
        if (apiKey !== undefined && config.provider === 'local')
          throw new z.ZodError([{ code: 'custom', path: ['apiKey'], message: 'does not apply to the local provider', input: apiKey }]);
        // The key goes only where it was given for: a new server, or another provider, without a new key drops it.
        const movedAway = current.provider === 'openai-compatible' && (config.provider !== 'openai-compatible' || config.baseUrl !== current.baseUrl);
        return { config, secret: apiKey ?? null, dropSecret: apiKey === undefined && movedAway };
      },
    },
    json: (config, secretSet) => ({ embedding: config.provider === 'openai-compatible' ? { ...config, apiKeySet: secretSet } : config }),
    check: (given, edge) => {
      if ('apiKey' in given && given.apiKey !== undefined && given.provider === 'local')
        return { field: 'embedding.apiKey', problem: 'does not apply to the local provider' };
      const problem = 'baseUrl' in given && given.baseUrl !== undefined ? edge.urlProblem(given.baseUrl) : null;
      return problem ? { field: 'embedding.baseUrl', problem } : null;
    },
    // Other text, other chunks, another model or server: the vectors are made again.
    rerunsOnChange: (before, after) => embeddingSignature(before) !== embeddingSignature(after),
    derivedTables: [{ table: 'embedding_chunks', lakeKeyed: true }],
  },
} satisfies { [K in PipelineKind]: PipelineKindSpec<K> };

// The registry seen per kind, so a function generic in the kind can index it.
const SPECS: { [K in PipelineKind]: PipelineKindSpec<K> } = PIPELINE_KINDS;

export const PIPELINE_KIND_NAMES = Object.keys(SPECS) as PipelineKind[];

/** The kind a stored config is: the one place that reads it off the JSON's shape. */
export function pipelineKindOf(config: PipelineConfig): PipelineKind {
  if ('fulltext' in config) return 'fulltext';
  if ('webhook' in config) return 'webhook';
  if ('embedding' in config) return 'embedding';
  return assertNever(config, 'pipeline config');
}

export function kindedConfig(config: PipelineConfig): KindedConfig {
  const kind = pipelineKindOf(config);
  return { kind, config: (config as Record<PipelineKind, unknown>)[kind] } as KindedConfig;
}

/** The stored form of a kind's settings. */
export function storedConfig<K extends PipelineKind>(c: KindedConfig<K>): PipelineConfig {
  return { [c.kind]: c.config } as PipelineConfig;
}

export function configJson<K extends PipelineKind>(c: KindedConfig<K>, secretSet: boolean): object {
  return SPECS[c.kind].json(c.config, secretSet);
}

/** The kind parts of a create or PATCH body: each under its kind's name. */
type CreateParts = { [K in PipelineKind]?: PipelineKindTypes[K]['create'] };
type PatchParts = { [K in PipelineKind]?: PipelineKindTypes[K]['patch'] };

type UrlCheck = { urlProblem(url: string): string | null };

/** Settings to store, a secret to seal, and the edge's checks of what was sent. */
export interface PipelineConfigChange {
  config: PipelineConfig;
  secret: string | null;
  /** The stored secret is removed (and no new one given). */
  dropSecret: boolean;
  /** Whether the change re-runs the pipeline over what its rules select. */
  reruns: boolean;
  /** Null when the checks pass. */
  check(edge: UrlCheck): FieldProblem | null;
}

/** A create body's config: its kind's part (or the kind's defaults), split into settings and secret. */
export function createPipelineConfig<K extends PipelineKind>(kind: K, parts: CreateParts): PipelineConfigChange {
  const part = parts[kind] as PipelineKindTypes[K]['create'] | undefined;
  const { config, secret } = SPECS[kind].create.split(part);
  return {
    config: storedConfig({ kind, config } as KindedConfig<K>),
    secret,
    dropSecret: false,
    reruns: false,
    check: (edge) => (part === undefined ? null : SPECS[kind].check(part, edge)),
  };
}

/**
 * A PATCH body's config change: null when it names no kind; the first kind
 * part that is not the pipeline's own kind is refused.
 */
export function patchPipelineConfig(current: PipelineConfig, parts: PatchParts): PipelineConfigChange | { wrongKind: PipelineKind } | null {
  const own = kindedConfig(current);
  const wrongKind = PIPELINE_KIND_NAMES.find((k) => k !== own.kind && parts[k] !== undefined);
  if (wrongKind) return { wrongKind };
  return patchOwn(own, parts);
}

function patchOwn<K extends PipelineKind>(own: KindedConfig<K>, parts: PatchParts): PipelineConfigChange | null {
  const part = parts[own.kind] as PipelineKindTypes[K]['patch'] | undefined;
  if (part === undefined) return null;
  const spec = SPECS[own.kind];
  const { config, secret, dropSecret } = spec.patch.apply(own.config, part);
  return {
    config: storedConfig({ kind: own.kind, config } as KindedConfig<K>),
    secret,
    dropSecret: dropSecret ?? false,
    reruns: spec.rerunsOnChange(own.config, config),
    check: (edge) => spec.check(part, edge),
  };
}
