import { z } from 'zod';
import { text } from '../../domain/text.js';
import { searchQueryProblem } from '../../domain/search-query.js';
import { RuleMatchSchema } from '../../domain/pipelines.js';
import { PIPELINE_KIND_NAMES, PIPELINE_KINDS } from '../../domain/pipeline-kinds.js';
import type { PipelineKind } from '../../domain/kinds.js';

const Name = text()
  .min(1)
  .max(128)
  .regex(/^[\w .:-]+$/, 'must be letters, digits, spaces and . _ : -');

/** One kind-specific settings object, named like the kind (as sources have `s3` / `filesystem`). */
export const CreatePipeline = z
  .object({
    name: Name,
    kind: z.enum(PIPELINE_KIND_NAMES as [PipelineKind, ...PipelineKind[]]),
    fulltext: PIPELINE_KINDS.fulltext.create.input.optional(),
    webhook: PIPELINE_KINDS.webhook.create.input.optional(),
    embedding: PIPELINE_KINDS.embedding.create.input.optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((b, ctx) => {
    for (const k of PIPELINE_KIND_NAMES)
      if (PIPELINE_KINDS[k].create.required && b.kind === k && !b[k]) ctx.addIssue({ code: 'custom', path: [k], message: `is required for a ${k} pipeline` });
    for (const k of PIPELINE_KIND_NAMES)
      if (b.kind !== k && b[k]) ctx.addIssue({ code: 'custom', path: [k], message: `does not apply to a ${b.kind} pipeline` });
  });

/** Optional-update semantics: absent fields keep their value; the kind never changes. */
export const UpdatePipeline = z
  .object({
    name: Name.optional(),
    enabled: z.boolean().optional(),
    fulltext: PIPELINE_KINDS.fulltext.patch.input.optional(),
    webhook: PIPELINE_KINDS.webhook.patch.input.optional(),
    embedding: PIPELINE_KINDS.embedding.patch.input.optional(),
  })
  .strict();

const PipelineIds = z.array(text().min(1).max(64)).min(1, 'must name at least one pipeline').max(20);

export const CreateRule = z
  .object({
    name: Name,
    pipelineIds: PipelineIds,
    match: RuleMatchSchema.default({}),
    enabled: z.boolean().default(true),
  })
  .strict();

export const UpdateRule = z
  .object({
    name: Name.optional(),
    pipelineIds: PipelineIds.optional(),
    /** Replaces the whole match. */
    match: RuleMatchSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

export const SearchBody = z
  .object({
    query: text()
      .trim()
      .min(1, 'must not be empty')
      .superRefine((q, ctx) => {
        const problem = searchQueryProblem(q);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    prefix: text().max(1024).default(''),
    page_size: z.number().int().min(1).max(100).default(10),
    page_token: text().max(2048).optional(),
    /** Search one fulltext pipeline's index instead of all of the bucket's. */
    pipelineId: text().min(1).max(64).optional(),
  })
  .strict();
