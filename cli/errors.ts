import type { ErrorBody } from '../api/contract/common.js';

/** The API's one error shape: `{ code, message, details }`. */
export type ApiErrorBody = ErrorBody;

/** Exit codes scripts can rely on: 1 when the API or a job failed, 2 when the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The command line (or a file it names) is wrong: nothing was sent to the API. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

/** The API answered with an error. */
export class ApiRequestError extends Error {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

/** Anything else that makes the command fail: the API is unreachable, a job failed. */
export class CliFailure extends Error {
  readonly exitCode = EXIT.failed;
}
