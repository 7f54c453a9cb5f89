/**
 * What must never reach a log line, a Temporal failure or a stored error
 * text: the capabilities in signed URLs' query strings, credential headers,
 * and the bound parameters of failed SQL (which carry sealed credentials,
 * object keys and whatever else a statement wrote).
 */
import { stdSerializers, type SerializedError, type SerializedRequest } from 'pino';

const REDACTED = '[redacted]';

/** Query parameter and header names that carry a capability (signatures, credentials, tokens, keys). */
const SECRET_NAME = /signature|credential|token|secret|passw|api[-_]?key|^sig$|^code$|^auth|^cookie$|^session/i;

const isSecretName = (name: string): boolean => SECRET_NAME.test(name);

const decodedName = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
};

/** The URL with every secret-looking query parameter's value replaced: path and harmless parameters stay readable. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return isSecretName(decodedName(name)) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

const redactRecord = <T>(record: T): T => {
  if (!record || typeof record !== 'object') return record;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, isSecretName(k) ? REDACTED : v])) as T;
};

/** Drizzle's DrizzleQueryError (`.query`, `.params`) and postgres.js errors (`.query`, `.parameters`). */
interface QueryError extends Error {
  query?: unknown;
  params?: unknown;
  parameters?: unknown;
  detail?: unknown;
}

const causes = (err: unknown): Error[] => {
  const chain: Error[] = [];
  for (let e = err; e instanceof Error && !chain.includes(e) && chain.length < 10; e = e.cause) chain.push(e);
  return chain;
};

/** Drizzle writes the parameters into the message: "Failed query: <sql>\nparams: <values>". */
const PARAMS_LINE = /\nparams: [\s\S]*$/;
/** Postgres puts the whole row into constraint failures' detail. */
const FAILING_ROW = /^Failing row contains/;

/** The message without its parameters; the SQL text (with $n placeholders) stays. */
const cleanMessage = (message: string): string => message.replace(PARAMS_LINE, '\nparams: [redacted]');

/**
 * Text (a message, a stack, a stored error) with every bound parameter list
 * the error chain wrote into it cut out.
 */
export function scrubErrorText(text: string, err: unknown): string {
  let out = text;
  for (const e of causes(err)) {
    const clean = cleanMessage(e.message);
    if (clean !== e.message) out = out.split(e.message).join(clean);
  }
  // Whatever was not an exact message of the chain (already flattened elsewhere): drop each params line.
  return out.replace(/^params: (?!\[redacted\]$).*$/gm, 'params: [redacted]');
}

/**
 * Rewrites an error chain in place so that nothing that later serialises it
 * (Temporal's failure converter, a logger, a stored error text) sees query
 * parameters: message and stack lose the params line, `params` and
 * `parameters` go, and a "Failing row contains" detail is redacted.
 */
export function scrubQueryError<T>(err: T): T {
  for (const e of causes(err) as QueryError[]) {
    const clean = cleanMessage(e.message);
    if (clean !== e.message) {
      if (typeof e.stack === 'string') e.stack = e.stack.split(e.message).join(clean);
      e.message = clean;
    }
    for (const field of ['params', 'parameters'] as const) {
      if (!(field in e)) continue;
      // postgres.js defines these non-writable; they are non-enumerable then, and serializers below drop them anyway.
      try {
        delete e[field];
      } catch {
        /* non-configurable */
      }
    }
    if (typeof e.detail === 'string' && FAILING_ROW.test(e.detail)) {
      try {
        e.detail = REDACTED;
      } catch {
        /* read-only */
      }
    }
  }
  return err;
}

/** pino's error serializer, minus query parameters (SQL text kept: it has placeholders). */
export function safeErrSerializer(value: unknown): unknown {
  // pino-http hands its err serializer what pino's standard one made of the error: the error itself is its `raw`.
  const err = value instanceof Error ? value : (value as { raw?: unknown } | null)?.raw;
  if (!(err instanceof Error)) return value;
  const out = stdSerializers.err(err) as SerializedError & Record<string, unknown>;
  out.message = scrubErrorText(out.message, err);
  if (typeof out.stack === 'string') out.stack = scrubErrorText(out.stack, err);
  delete out.params;
  delete out.parameters;
  if (typeof out.detail === 'string' && FAILING_ROW.test(out.detail)) out.detail = REDACTED;
  return out;
}

/** pino-http's request serializer (after its standard one): no signature or token in the URL, the parsed query or the headers. */
export function safeReqSerializer(req: SerializedRequest): SerializedRequest {
  if (typeof req.url === 'string') req.url = redactUrl(req.url);
  req.query = redactRecord(req.query);
  req.headers = redactRecord(req.headers);
  return req;
}

/** Serializers every lakesync logger uses (`err` and `error`: the Temporal SDK names its errors `error`). */
export const safeSerializers = { err: safeErrSerializer, error: safeErrSerializer };
