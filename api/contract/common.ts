/**
 * Shapes shared by many responses. The contract modules are pure zod: the API
 * types its serialisers and handlers by them, /openapi.json describes them,
 * and the CLI reads responses with them, without pulling in Express or Postgres.
 * Response text is ours, not the edge's, so plain z.string() describes it.
 */
import { z } from 'zod';

/** An ISO 8601 instant, or null where the event has not happened. */
export const Instant = z.string().nullable();

/** K3 renders int64 timestamps and counters as strings (epoch milliseconds, digits). */
export const Millis = z.string().nullable();

/** The cursor fields of a paged list. */
export const PageFields = {
  /** Hand back as page_token for the next page; '' on the last page. */
  nextPageToken: z.string(),
  totalCount: z.number().int(),
};
export const Page = z.object(PageFields);
export type Page = z.infer<typeof Page>;

/** The one error shape every route answers with. */
export const ErrorBody = z
  .object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), problem: z.string() })),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** `{}`: the answer of a deletion that has nothing more to say. */
export const Empty = z.object({});
