import { z } from 'zod';
import { FulltextConfigSchema, RuleMatchSchema, WebhookConfigSchema } from '../../domain/pipelines.js';
import { PIPELINE_KIND_NAMES } from '../../domain/pipeline-kinds.js';
import { EmbeddingView } from '../../domain/embeddings/config.js';
import { Instant, PageFields } from './common.js';

/** A pipeline as the API shows it: its settings, never its signing secret or API key. */
export const Pipeline = z
  .object({
    pipelineId: z.string(),
    bucket: z.string(),
    name: z.string(),
    kind: z.enum(PIPELINE_KIND_NAMES),
    fulltext: FulltextConfigSchema.optional(),
    webhook: WebhookConfigSchema.extend({ secretSet: z.boolean() }).optional(),
    embedding: EmbeddingView.optional(),
    enabled: z.boolean(),
    createdAt: Instant,
    updatedAt: Instant,
  })
  .meta({ id: 'Pipeline' });
export type Pipeline = z.infer<typeof Pipeline>;

export const PipelineList = z.object({ pipelines: z.array(Pipeline), ...PageFields });

export const Rule = z
  .object({
    ruleId: z.string(),
    bucket: z.string(),
    name: z.string(),
    pipelineIds: z.array(z.string()),
    match: RuleMatchSchema,
    enabled: z.boolean(),
    createdAt: Instant,
    updatedAt: Instant,
  })
  .meta({ id: 'Rule' });
export type Rule = z.infer<typeof Rule>;

export const RuleList = z.object({ rules: z.array(Rule), ...PageFields });

/** One source's back-fill: the ingestion job that runs the rule's pipelines over its stored objects. */
export const BackfillDispatch = z.object({ sourceId: z.string(), jobId: z.string().nullable(), dispatched: z.number().int(), error: z.string().optional() });

/** Creating a rule, or changing what it selects, back-fills. */
export const RuleWithBackfill = Rule.extend({ backfill: z.array(BackfillDispatch).optional() });
/** Re-enabling a pipeline, or changing its text extraction, back-fills through the rules that use it. */
export const PipelineWithBackfill = Pipeline.extend({ backfill: z.array(BackfillDispatch).optional() });
