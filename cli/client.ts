import { ApiRequestError, CliFailure, type ApiErrorBody } from './errors.js';
import type { CliConfig } from './config.js';
import { errorMessage } from '../domain/error-text.js';

export type Query = Record<string, string | number | boolean | undefined>;

/** A thin fetch client for the lakesync REST API: JSON in, JSON out, one error shape. */
export class ApiClient {
  constructor(private readonly config: CliConfig) {}

  get url(): string {
    return this.config.url;
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  post<T = unknown>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, { body });
  }
  patch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body });
  }
  /** Resolves undefined for 204 No Content. */
  delete<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.request<T>('DELETE', path, { query });
  }

  async request<T>(method: string, path: string, o: { query?: Query; body?: unknown }): Promise<T> {
    const target = new URL(this.config.url + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined && v !== '') target.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(target, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliFailure(`cannot reach lakesync at ${this.config.url}: ${cause?.code ?? cause?.message ?? errorMessage(err)}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok)
      throw new ApiRequestError(
        res.status,
        isErrorBody(json) ? json : { code: `HTTP_${res.status}`, message: `${method} ${path} answered ${res.status} ${res.statusText}`, details: [] },
      );
    if (text && json === undefined) throw new CliFailure(`${method} ${path} answered something that is not JSON`);
    return json as T;
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as ApiErrorBody).code === 'string' && typeof (v as ApiErrorBody).message === 'string';
}

/** Path segments are user input: a bucket or id with odd characters must not change the route. */
export const seg = (s: string): string => encodeURIComponent(s);
