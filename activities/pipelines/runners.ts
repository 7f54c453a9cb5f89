/**
 * PIPELINE_RUNNERS, the worker half of the pipeline kind registry (the pure
 * half is domain/pipeline-kinds.ts): per kind, how one object runs through a
 * pipeline of that kind.
 */
import { Context } from '@temporalio/activity';
import { backOff } from 'exponential-backoff';
import type { PipelineRow } from '../../db/schema.js';
import type { PipelineKind } from '../../domain/kinds.js';
import { storedErrorText } from '../../domain/error-text.js';
import { RUN_STATUS } from '../../domain/statuses.js';
import { kindedConfig, type KindedConfig, type PipelineSettings } from '../../domain/pipeline-kinds.js';
import type { ActivityDeps } from '../deps.js';
import { OBJECT_BUDGET_MS } from '../../domain/embeddings/config.js';
import { EmbeddingRefused } from '../../domain/embeddings/openai.js';
import { runEmbedding } from './embedding.js';
import { runFulltext } from './fulltext.js';
import type { PipelineOutcome, StoredObject } from './types.js';
import { runWebhook } from './webhook.js';

export interface PipelineRun {
  jobId: string;
  /** A deliberate re-run (ruleId), not a retry: a new delivery for kinds that deliver. */
  rerun: boolean;
}

export type PipelineRunner<K extends PipelineKind> = (
  deps: ActivityDeps,
  pipeline: PipelineRow,
  config: PipelineSettings<K>,
  obj: StoredObject,
  run: PipelineRun,
) => Promise<PipelineOutcome>;

export const PIPELINE_RUNNERS: { [K in PipelineKind]: PipelineRunner<K> } = {
  // Fulltext and embedding failures are the lake's or Postgres's, and transient: a few tries with backoff.
  fulltext: (deps, p, config, obj) => withRetries(deps, () => runFulltext(deps, p.id, config, obj)),
  // One budget for the object across its tries: a retry after 55 minutes gets the 5 left, not a fresh hour.
  embedding: (deps, p, config, obj) => {
    const deadline = Date.now() + OBJECT_BUDGET_MS;
    return withRetries(deps, () => runEmbedding(deps, p.id, config, p.sealedSecret, obj, deadline));
  },
  // A delivery's key survives retries and crash recovery by a later job; only a deliberate re-run is a new delivery.
  webhook: (deps, p, config, obj, run) => runWebhook(deps, p.id, config, p.sealedSecret, obj, run.rerun ? run.jobId : ''),
};

/** Throws only when the activity was cancelled: the object is left owed, not failed, and the retried batch runs it. */
async function withRetries(deps: ActivityDeps, run: () => Promise<Omit<PipelineOutcome, 'attempts'>>): Promise<PipelineOutcome> {
  const cancelled = Context.current().cancellationSignal;
  let attempt = 0;
  try {
    const outcome = await backOff(
      () => {
        attempt++;
        return run();
      },
      // A refused request (a bad key, a model the server lacks) is refused again: it fails at once.
      {
        numOfAttempts: deps.maxAttempts,
        startingDelay: deps.retryBackoffMs,
        timeMultiple: 2,
        jitter: 'none',
        retry: (err) => !(err instanceof EmbeddingRefused) && !cancelled.aborted,
      },
    );
    return { ...outcome, attempts: attempt };
  } catch (err) {
    if (cancelled.aborted) throw err;
    return { status: RUN_STATUS.failed, error: storedErrorText(err), attempts: attempt };
  }
}

function runAs<K extends PipelineKind>(deps: ActivityDeps, p: PipelineRow, c: KindedConfig<K>, obj: StoredObject, run: PipelineRun): Promise<PipelineOutcome> {
  return PIPELINE_RUNNERS[c.kind](deps, p, c.config, obj, run);
}

/** Runs one object through one pipeline, as its kind runs. */
export function runPipeline(deps: ActivityDeps, p: PipelineRow, obj: StoredObject, run: PipelineRun): Promise<PipelineOutcome> {
  return runAs(deps, p, kindedConfig(p.config), obj, run);
}
