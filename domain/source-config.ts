/**
 * Source settings as stored and as accepted by the API. Connection settings
 * hold no secrets; credentials travel separately and are sealed at rest.
 */
import { z } from 'zod';
import { text } from './text.js';
import { globProblem } from './filters.js';
import { S3_PROVIDERS } from './s3-presets.js';
import { MetadataFilterSchema } from './metadata-filters.js';

/** A glob, checked for syntax when it arrives. */
export const Glob = text()
  .min(1)
  .max(1024)
  .superRefine((p, ctx) => {
    const problem = globProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A MIME type or a `type/*` wildcard (compared lower-case). */
export const MimePattern = text().regex(/^[\w.+-]+\/([\w.+-]+|\*)$/, 'must be a MIME type such as text/plain or image/*');

export const S3ConnectionSchema = z
  .object({
    endpoint: text().url().optional(),
    region: text().min(1).max(64).default('us-east-1'),
    bucket: text()
      .min(3)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'must be a valid S3 bucket name'),
    prefix: text().max(1024).default(''),
    forcePathStyle: z.boolean().default(true),
    /** A preset (domain/s3-presets.ts) that filled the endpoint, region and addressing style. */
    provider: z.enum(S3_PROVIDERS).optional(),
    /** Cloudflare R2's account, part of its endpoint. */
    accountId: text()
      .regex(/^[0-9a-f]{32}$/, 'must be a Cloudflare account id (32 hex digits)')
      .optional(),
  })
  .strict();

export const FilesystemConnectionSchema = z
  .object({
    path: text()
      .min(1)
      .refine((p) => p.startsWith('/'), 'must be an absolute path'),
  })
  .strict();

export type S3Connection = z.infer<typeof S3ConnectionSchema>;
export type FilesystemConnection = z.infer<typeof FilesystemConnectionSchema>;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) come with a session token. */
  sessionToken?: string;
}

export const FileFiltersSchema = z
  .object({
    includePatterns: z.array(Glob).max(100).optional(),
    excludePatterns: z.array(Glob).max(100).optional(),
    minSizeBytes: z.number().int().min(0).optional(),
    maxSizeBytes: z.number().int().min(0).optional(),
    modifiedAfter: text().datetime({ offset: true }).optional(),
    modifiedBefore: text().datetime({ offset: true }).optional(),
    mimeTypes: z.array(MimePattern).max(100).optional(),
    /** All must hold; checked with a HEAD of each object the other filters let through (see activities/page-filter.ts). */
    metadataFilters: z.array(MetadataFilterSchema).max(50).optional(),
  })
  .strict();
export type FileFilters = z.infer<typeof FileFiltersSchema>;

export const ReconcileSchema = z
  .object({
    onDelete: z.boolean().optional(),
    onUpdate: z.boolean().optional(),
    onFilterDrift: z.boolean().optional(),
    /** rclone's --max-delete: a count, or a percentage of the source's objects ("10%"). */
    maxDeletes: z.union([z.number().int().min(0), text().regex(/^(100|[1-9]?\d)(\.\d+)?%$/, 'must be a count or a percentage such as "10%"')]).optional(),
  })
  .strict();
export type ReconcileSettings = z.infer<typeof ReconcileSchema>;

/** Mixpeek's defaults: every reconcile action on, for full consistency. */
export function reconcileWithDefaults(r: ReconcileSettings): Required<Omit<ReconcileSettings, 'maxDeletes'>> & Pick<ReconcileSettings, 'maxDeletes'> {
  return { onDelete: true, onUpdate: true, onFilterDrift: true, ...r };
}

export const SYNC_INTERVAL = { min: 5, max: 86_400 } as const;
export const BATCH_SIZE = { min: 1, max: 1000 } as const;
