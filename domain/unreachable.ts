/**
 * Errors that say a server could not be reached, or went away in the middle
 * of an exchange: nothing was wrong with what was asked, and the same request
 * should work once the server is back. The API answers them with 503 and
 * Retry-After; ingestion retries its batch without charging the objects.
 */

/** The error and its causes, outermost first (drizzle, the AWS SDK and the Temporal client wrap the error that says what happened). */
export function causes(err: unknown): object[] {
  const out: object[] = [];
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; depth++, e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/** Socket-level failures: the connection could not be made, or was cut. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);
/** postgres.js's own codes for a connection that closed, ended or never came up. */
const POSTGRES_JS_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);
/**
 * SQLSTATEs of a Postgres that is going or not there yet: class 08 (connection
 * exception), admin and crash shutdown, "the database system is starting up",
 * too many connections.
 */
const DOWN_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** A code postgres.js or Postgres gives when the connection or the server went away (or is not up yet). */
export const postgresGoneCode = (code: string): boolean => POSTGRES_JS_CODES.has(code) || DOWN_SQLSTATES.has(code);

const codeOf = (e: object): string | undefined => {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
};

/** Postgres is out of reach: a postgres.js error (it marks every query's error with the query) that says so. */
export function postgresUnreachable(err: unknown): boolean {
  const chain = causes(err);
  if (!chain.some((e) => 'query' in e)) return false;
  return chain.some((e) => {
    const code = codeOf(e);
    if (code === undefined) return false;
    if (POSTGRES_JS_CODES.has(code) || SOCKET_CODES.has(code)) return true;
    return (e as { name?: unknown }).name === 'PostgresError' && (code.startsWith('08') || DOWN_SQLSTATES.has(code));
  });
}

/** Any server out of reach at the socket level, Postgres included. */
export function connectionFailed(err: unknown): boolean {
  return (
    causes(err).some((e) => {
      const code = codeOf(e);
      return (code !== undefined && (SOCKET_CODES.has(code) || POSTGRES_JS_CODES.has(code))) || (e as { name?: unknown }).name === 'TimeoutError';
    }) || postgresUnreachable(err)
  );
}
