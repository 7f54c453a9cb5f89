import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { ApiDeps } from './deps.js';
import { authMiddleware } from './auth.js';
import { openApiDocument } from './openapi.js';
import { ApiError, errorHandler } from './errors.js';

/** Routes that need no bearer token. */
const PUBLIC_PATHS = new Set(['/healthz', '/openapi.json', '/metrics']);
import { bucketRoutes } from './routes/buckets.js';
import { bytePlaneRoutes, isSignedRequest } from './routes/byte-plane.js';
import { isBytePlaneRead } from './route-table.js';
import { bodyTextGuard, textGuard } from './text-guard.js';
import { objectRoutes } from './routes/objects.js';
import { uploadRoutes } from './routes/uploads.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { pipelineRoutes } from './routes/pipelines.js';
import { ruleRoutes } from './routes/rules.js';
import { searchRoutes } from './routes/search.js';
import { sourceRoutes } from './routes/sources.js';
import { syncRoutes } from './routes/sync.js';
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
  app.use(healthRoutes(deps));
  const openApi = openApiDocument();
  app.get('/openapi.json', (_req, res) => void res.json(openApi));
  // Prometheus scrapes without a token: the API's own registry carries route patterns and counts, never ids, keys or
  // bucket names (the worker's per-source metrics live in another registry, served only on the worker's endpoint).
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await scrapeApi();
    res.type(contentType).send(body);
  });
  // Authentication comes first: without a valid token nothing about the request is looked at.
  // A signed URL stands in for a token only on the byte-plane reads it was made for.
  app.use(authMiddleware(deps.auth, (req) => PUBLIC_PATHS.has(req.path) || (isSignedRequest(req) && isBytePlaneRead(req.method, req.path))));
  app.use(textGuard());
  // PUT is the byte plane: its body is the object, streamed, never parsed.
  const json = express.json({ limit: '1mb', strict: false });
  app.use((req, res, next) => (req.method === 'PUT' ? next() : json(req, res, next)));
  app.use(bodyTextGuard());
  app.use(withLogFields(bucketRoutes(deps)));
  app.use(withLogFields(jobRoutes(deps)));
  app.use(withLogFields(syncRoutes(deps)));
  app.use(withLogFields(deadLetterRoutes(deps)));
  app.use(withLogFields(sourceRoutes(deps)));
  app.use(withLogFields(objectRoutes(deps)));
  app.use(withLogFields(uploadRoutes(deps)));
  app.use(withLogFields(pipelineRoutes(deps)));
  app.use(withLogFields(ruleRoutes(deps)));
  app.use(withLogFields(searchRoutes(deps)));
  // Last: /:bucket/*key would otherwise shadow every bucket-scoped route.
  app.use(withLogFields(bytePlaneRoutes(deps)));
  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `route ${req.method} ${req.path} not found`)));
  app.use(errorHandler(deps.log));
  return app;
}
