import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { ApiDeps } from './deps.js';
import { authMiddleware } from './auth.js';
import { openApiDocument } from './openapi.js';
import { ApiError, errorHandler } from './errors.js';

/** Routes that need no bearer token. */
const PUBLIC_PATHS = new Set(['/healthz', '/openapi.json']);
import { bucketRoutes } from './routes/buckets.js';
import { bytePlaneRoutes, isSignedRequest } from './routes/byte-plane.js';
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

/** The thin HTTP front: validates, talks to Postgres and Temporal, and nothing else. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // One line per request; bearer tokens are redacted by the logger.
  app.use(pinoHttp({ logger: deps.log, customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'), autoLogging: { ignore: (req) => req.url === '/healthz' } }));
  app.use(healthRoutes(deps));
  const openApi = openApiDocument();
  app.get('/openapi.json', (_req, res) => void res.json(openApi));
  app.use(authMiddleware(deps.auth, (req) => PUBLIC_PATHS.has(req.path) || isSignedRequest(req)));
  // PUT is the byte plane: its body is the object, streamed, never parsed.
  const json = express.json({ limit: '1mb', strict: false });
  app.use((req, res, next) => (req.method === 'PUT' ? next() : json(req, res, next)));
  app.use(bucketRoutes(deps));
  app.use(jobRoutes(deps));
  app.use(syncRoutes(deps));
  app.use(deadLetterRoutes(deps));
  app.use(sourceRoutes(deps));
  app.use(objectRoutes(deps));
  app.use(uploadRoutes(deps));
  app.use(pipelineRoutes(deps));
  app.use(ruleRoutes(deps));
  app.use(searchRoutes(deps));
  // Last: /:bucket/*key would otherwise shadow every bucket-scoped route.
  app.use(bytePlaneRoutes(deps));
  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `route ${req.method} ${req.path} not found`)));
  app.use(errorHandler(deps.log));
  return app;
}
