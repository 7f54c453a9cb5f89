import type { Response } from 'express';
import { ApiError } from './errors.js';

/** Postgres' SQLSTATE for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

/**
 * A few searches at a time, answered at once when busy, so the rest of the
 * API keeps its database connections; one organisation may hold at most half
 * the slots (at least one), so it cannot turn everyone else's searches away.
 * Keyword and vector searches share one set.
 */
export class SearchSlots {
  private running = 0;
  private readonly perOrg: number;
  private readonly runningByOrg = new Map<string, number>();

  constructor(
    private readonly concurrency: number,
    readonly timeoutMs: number,
  ) {
    this.perOrg = Math.max(1, Math.floor(concurrency / 2));
  }

  async run<T>(org: string, res: Response, search: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency || (this.runningByOrg.get(org) ?? 0) >= this.perOrg) {
      res.setHeader('Retry-After', '1');
      throw new ApiError('UNAVAILABLE', 'query: cannot be searched now: too many searches are running; retry shortly', [
        { field: 'query', problem: 'cannot be searched now: too many searches are running; retry shortly' },
      ]);
    }
    this.running++;
    this.runningByOrg.set(org, (this.runningByOrg.get(org) ?? 0) + 1);
    try {
      return await search();
    } catch (err) {
      if ((err as { code?: unknown }).code !== QUERY_CANCELED) throw err;
      throw new ApiError('UNAVAILABLE', `query: took more than ${this.timeoutMs} ms to search; narrow it`, [
        { field: 'query', problem: `took more than ${this.timeoutMs} ms to search; narrow it` },
      ]);
    } finally {
      this.running--;
      const left = (this.runningByOrg.get(org) ?? 1) - 1;
      if (left > 0) this.runningByOrg.set(org, left);
      else this.runningByOrg.delete(org);
    }
  }
}
