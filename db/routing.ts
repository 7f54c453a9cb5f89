import { and, eq } from 'drizzle-orm';
import { pipelines, rules, type PipelineRow } from './schema.js';
import { compileRouting, type RoutableObject } from '../domain/pipelines.js';
import type { Db } from './client.js';

export interface Routing {
  /** True when no enabled rule reaches an enabled pipeline: stored objects are done at once. */
  empty: boolean;
  pipelines: Map<string, PipelineRow>;
  /** The pipelines an object goes to (only one rule's, when given). */
  route(o: RoutableObject, onlyRule?: string | null): string[];
}

/** A bucket's enabled rules and pipelines, read once per activity (and by ObjectInfo): the API and the activities both read it. */
export async function loadRouting(deps: { db: Db }, bucketId: string): Promise<Routing> {
  const [ruleRows, pipelineRows] = await Promise.all([
    deps.db
      .select()
      .from(rules)
      .where(and(eq(rules.bucketId, bucketId), eq(rules.enabled, true))),
    deps.db
      .select()
      .from(pipelines)
      .where(and(eq(pipelines.bucketId, bucketId), eq(pipelines.enabled, true))),
  ]);
  const byId = new Map(pipelineRows.map((p) => [p.id, p]));
  const route = compileRouting(ruleRows, new Set(byId.keys()));
  const empty = !ruleRows.some((r) => r.pipelineIds.some((p) => byId.has(p)));
  return { empty, pipelines: byId, route };
}
