import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { ApiDeps } from './deps.js';
import { authMiddleware } from './auth.js';
import { openApiDocument } from './openapi.js';
import { ApiError, errorHandler } from './errors.js';
import { isSignedRequest } from './routes/byte-plane.js';
import { API_ROUTERS, META_ROUTES, PUBLIC_PATHS, envelopeOf, isBytePlaneRead, isSourceTokenRoute, matchOperation, requiredScope } from './route-table.js';
import { routesOf } from './route.js';
import { bodyTextGuard, textGuard } from './text-guard.js';
import { healthRoutes } from './routes/health.js';
import { s3Endpoint } from './s3/dispatch.js';
import { logFields, withLogFields } from './log-fields.js';
import { httpMetrics } from '../metrics/http.js';
import { scrapeApi } from '../metrics/registry.js';
import { safeErrSerializer, safeReqSerializer } from '../domain/log-redaction.js';

/** The thin HTTP front: validates, talks to Postgres and Temporal, and nothing else. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // X-Forwarded-* only from configured proxies; req.ip, req.protocol and req.host follow this.
  app.set('trust proxy', deps.trustProxy ?? false);
  app.use(httpMetrics());
  // One line per request with the bucket, source, job and workflow it concerns; bearer tokens are redacted by the logger.
  app.use(
    pinoHttp({
      logger: deps.log,
      // Signed URLs' signatures and tokens never reach the request line; failed queries' parameters never reach an error.
      serializers: { req: safeReqSerializer, err: safeErrSerializer },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      customProps: (_req, res) => ({ ...logFields(res) }),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  // The dispatch rule: an AWS-signed request is an S3 request whatever its path (api/s3/dispatch.ts), ahead of every K3 route.
  app.use(s3Endpoint(deps, { region: deps.s3?.region ?? 'us-east-1', domain: deps.s3?.domain }));
  app.use(healthRoutes(deps));
  const openApi = openApiDocument();
  const meta = routesOf(META_ROUTES);
  meta.on('openapi', (_req, res) => void res.json(openApi));
  // Prometheus scrapes without a token: the API's own registry carries route patterns and counts, never ids, keys or
  // bucket names (the worker's per-source metrics live in another registry, served only on the worker's endpoint).
  meta.on('metrics', async (_req, res) => {
    const { contentType, body } = await scrapeApi();
    res.type(contentType).send(body);
  });
  app.use(meta.router());
  // Authentication comes first: without a valid token nothing about the request is looked at.
  // DataInsider's routes (scope null, `apiKey` set) pass here and check their api_key in their handlers: it may sit in the body.
  // A signed URL stands in for a token only on the byte-plane reads it was made for.
  // Change notifications carry their source's webhook token, which their handler checks (api/routes/source-events.ts).
  app.use(
    authMiddleware(
      deps.auth,
      (req) => PUBLIC_PATHS.has(req.path) || isSourceTokenRoute(req.method, req.path) || (isSignedRequest(req) && isBytePlaneRead(req.method, req.path)),
      requiredScope,
    ),
  );
  app.use(textGuard());
  // PUT is the byte plane: its body is the object, streamed, never parsed.
  const json = express.json({ limit: '1mb', strict: false });
  app.use((req, res, next) => (req.method === 'PUT' ? next() : json(req, res, next)));
  app.use(bodyTextGuard());
  // In the route table's order: the byte plane last.
  for (const { router } of API_ROUTERS) app.use(withLogFields(router(deps)));
  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `route ${req.method} ${req.path} not found`)));
  app.use(errorHandler(deps.log, (req) => envelopeOf(matchOperation(req.method, req.path)?.op)));
  return app;
}
