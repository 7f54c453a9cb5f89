/**
 * A route declared once: its method, Express route, scope, request and
 * response schemas and summary sit in its routes file's table, and its
 * handler is registered beside them under the same name. The Express routers,
 * /openapi.json, the scope check and the text guard's path matching are all
 * read from these tables (api/route-table.ts lists them in mounting order).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { RouteParameters } from 'express-serve-static-core';
import type { z } from 'zod';
import type { Scope } from './auth.js';

export type Method = 'get' | 'post' | 'patch' | 'delete' | 'put' | 'head';

export interface ResponseSpec {
  /** What the answer means; a plain default per status when left out. */
  description?: string;
  /** The JSON body; none for an empty answer. */
  body?: z.ZodType;
  /** A body that is not JSON: its media type (the byte plane's object bytes). */
  bytes?: string;
}

export interface RouteSpec {
  method: Method;
  /** The Express route as registered: `:name` for one segment, `*name` for every remaining one. */
  route: string;
  summary: string;
  /** What the bearer token must hold (`admin` holds every scope); null for a public route, or one authenticated by `apiKey`. */
  scope: Scope | null;
  /**
   * A DataInsider route (with `scope: null`): authenticated by its handler with
   * an `api_key` holding this scope instead of a bearer token, and answering
   * errors in DataInsider's `{ code, msg }` envelope.
   */
  apiKey?: Scope;
  /**
   * A change-notification route (with `scope: null`): authenticated by its
   * handler with the source's own webhook token as the bearer, not an API token.
   */
  sourceToken?: true;
  /** A Mixpeek route: errors answer in Mixpeek's `{ success, status, error }` envelope. */
  errors?: 'mixpeek';
  query?: z.ZodObject;
  body?: z.ZodType;
  /** By status: the successes; the errors every route shares are added to the document. */
  responses: Readonly<Record<number, ResponseSpec>>;
}

export type RouteSpecs = Readonly<Record<string, RouteSpec>>;

/** Keeps the literal types (the route pattern types the handler's `req.params`; the responses its `res.json`). */
export const defineRoutes = <const T extends RouteSpecs>(specs: T): T => specs;

type BodyOf<R> = R extends { body: infer B extends z.ZodType } ? z.output<B> : R extends { bytes: string } ? unknown : never;
type Bodies<S extends RouteSpec> = { [K in keyof S['responses']]: BodyOf<S['responses'][K]> }[keyof S['responses']];

/** The JSON a route may answer with, from its response schemas (undefined when it answers none; anything when it answers raw bytes). */
export type ResponseBody<S extends RouteSpec> = [Bodies<S>] extends [never] ? undefined : Bodies<S>;

export type RouteHandler<S extends RouteSpec> = (req: Request<RouteParameters<S['route']>>, res: Response<ResponseBody<S>>) => unknown;

/** Collects a table's handlers; `router()` registers them in table order and refuses a route left without one. */
export class RouteBuilder<T extends RouteSpecs> {
  private readonly handlers = new Map<string, RequestHandler>();

  constructor(private readonly specs: T) {}

  on<K extends keyof T & string>(name: K, handler: RouteHandler<T[K]>): void {
    if (this.handlers.has(name)) throw new Error(`route ${name} has two handlers`);
    this.handlers.set(name, handler as unknown as RequestHandler);
  }

  router(): Router {
    const r = Router();
    for (const [name, spec] of Object.entries(this.specs)) {
      const handler = this.handlers.get(name);
      if (!handler) throw new Error(`route ${spec.method.toUpperCase()} ${spec.route} (${name}) has no handler`);
      r[spec.method](spec.route, handler);
    }
    return r;
  }
}

export const routesOf = <T extends RouteSpecs>(specs: T): RouteBuilder<T> => new RouteBuilder(specs);
