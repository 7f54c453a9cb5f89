/**
 * Turns at an embedding server under a pipeline's `requestsPerMinute`, shared
 * by every process through one row per pipeline (`pipeline_rate_turns`).
 * Taking a turn reserves the next free one in a single statement, so two
 * workers (or a worker and an API) never get the same one; the caller sleeps
 * until its turn. A turn reserved by a caller that then gives up is lost,
 * which only makes the limit stricter.
 */
import type { Sql } from 'postgres';

/** Reserves the pipeline's next turn, `gapMs` after the previous one; answers how long to wait for it and when it is (the server's clock). */
export async function takeRateTurn(sql: Sql, pipelineId: string, gapMs: number): Promise<{ waitMs: number; turnAt: Date }> {
  const [row] = await sql<{ wait_ms: number; turn_at: Date }[]>`
    insert into pipeline_rate_turns as t (pipeline_id, next_at)
    values (${pipelineId}, clock_timestamp() + make_interval(secs => ${gapMs / 1000}))
    on conflict (pipeline_id) do update set next_at = greatest(t.next_at, clock_timestamp()) + make_interval(secs => ${gapMs / 1000})
    returning greatest(0, extract(epoch from (t.next_at - clock_timestamp())) * 1000 - ${gapMs})::float8 as wait_ms,
      t.next_at - make_interval(secs => ${gapMs / 1000}) as turn_at`;
  return { waitMs: row!.wait_ms, turnAt: row!.turn_at };
}

/** How long until the pipeline's next free turn, without taking it. */
export async function nextRateTurn(sql: Sql, pipelineId: string): Promise<number> {
  const [row] = await sql<{ wait_ms: number }[]>`
    select greatest(0, extract(epoch from (next_at - clock_timestamp())) * 1000)::float8 as wait_ms
    from pipeline_rate_turns where pipeline_id = ${pipelineId}`;
  return row?.wait_ms ?? 0;
}
