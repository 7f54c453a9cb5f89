// The S3 endpoint's front door. The dispatch rule: a request signed the AWS way (SigV4 Authorization header or
// presigned query) is an S3 request whatever its path, so S3 clients reach every key, `sources/…` and `jobs`
// included; every other request goes on to the K3 routes (bearer tokens), which keep their meaning.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiDeps } from '../deps.js';
import { randomHex } from '../../domain/random-pool.js';
import type { ActiveKey } from '../service-keys.js';
import { s3Address, s3Query } from './addressing.js';
import { lakeDigests, verifiedBody } from './body.js';
import type { BodyDigests } from '../../lake/hashing.js';
import { findCaller, type NamedBucket } from './caller.js';
import type { S3Context } from './context.js';
import { asS3Error, S3Error } from './errors.js';
import { refuseUnsupportedHeaders, s3Operation } from './operations.js';
import { signedRequestForm, splitRequestUrl, verifySigV4 } from './sigv4/index.js';
import { xmlDocument } from './xml.js';
import { RETRY_AFTER_SECONDS, unavailableDependency } from '../unavailable.js';

export interface S3EndpointOptions {
  /** The region clients sign for (the credential scope must name it). */
  region: string;
  /** Virtual-host style: `<bucket>.<domain>` names the bucket. */
  domain?: string;
}

/** S3's error answer: the XML body (none for HEAD) with the request id. */
function sendError(req: Request, res: Response, err: S3Error, requestId: string, resource: string): void {
  if (res.headersSent) return void res.destroy();
  res.status(err.status);
  // A half-read body would otherwise stall the answer: S3 answers and closes.
  if (!req.complete) res.setHeader('Connection', 'close');
  if (req.method === 'HEAD') return void res.end();
  const doc = xmlDocument('Error', { Code: err.code, Message: err.message, ...err.fields, Resource: resource, RequestId: requestId, HostId: requestId }, false);
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', String(Buffer.byteLength(doc)));
  res.end(doc);
}

export function s3Endpoint(deps: ApiDeps, options: S3EndpointOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const { rawPath, rawQuery } = splitRequestUrl(req.originalUrl);
    const form = signedRequestForm(req.headers, rawQuery);
    const virtualHost =
      options.domain !== undefined && (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '').endsWith(`.${options.domain.toLowerCase()}`);
    if (form === null && !virtualHost) return next();
    const requestId = randomHex(8).toUpperCase();
    // The metrics label until the operation is known (refused before it was: bad signature, NotImplemented).
    res.locals.s3Operation = 'Unresolved';
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    const resource = rawPath;
    serve(deps, options, req, res, requestId, rawPath, rawQuery).catch((err: unknown) => {
      const down = unavailableDependency(err);
      if (down && !res.headersSent) {
        // S3 clients retry a 503 on their own, after Retry-After when they read it.
        deps.log.warn({ err, requestId, dependency: down }, 'a dependency is unavailable; answered 503');
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        return sendError(req, res, new S3Error('ServiceUnavailable', `${down} is unavailable; retry shortly.`), requestId, resource);
      }
      const s3 = asS3Error(err);
      if (!s3) deps.log.error({ err, requestId }, 'S3 request failed');
      sendError(req, res, s3 ?? new S3Error('InternalError', 'We encountered an internal error. Please try again.'), requestId, resource);
    });
  };
}

async function serve(deps: ApiDeps, options: S3EndpointOptions, req: Request, res: Response, requestId: string, rawPath: string, rawQuery: string) {
  let key: ActiveKey | null = null;
  let named: NamedBucket | null = null;
  // The bucket is looked up with the key; a path that does not parse is refused below, once the signature is checked.
  const bucketName = (() => {
    try {
      return s3Address(rawPath, req.headers.host, options.domain).bucket;
    } catch {
      return null;
    }
  })();
  const secretFor = async (id: string) => {
    const found = await findCaller(deps, id, bucketName);
    key = found?.key ?? null;
    named = found?.named ?? null;
    return key?.secret ?? null;
  };
  const verified = await verifySigV4(
    { method: req.method, rawPath, rawQuery, headers: req.headers, rawHeaders: req.rawHeaders },
    { secretFor, region: options.region },
  );
  if (!verified.ok) throw new S3Error(verified.code, verified.message);
  const { secret: _secret, ...caller } = key!;
  const address = s3Address(rawPath, req.headers.host, options.domain);
  const query = s3Query(rawQuery);
  const target = address.bucket === null ? 'service' : address.key === null ? 'bucket' : 'object';
  const op = s3Operation(target, req.method, query, req.headers);
  res.locals.s3Operation = op.name;
  if (req.method === 'PUT' || req.method === 'POST') refuseUnsupportedHeaders(req.headers, query);
  const declared =
    verified.payload.kind === 'aws-chunked'
      ? verified.payload.decodedLength
      : req.headers['content-length']
        ? Number(req.headers['content-length'])
        : undefined;
  let bodyTaken = false;
  const takeBody = (leaveToLake?: BodyDigests) => {
    if (bodyTaken) throw new Error('the request body was read twice');
    bodyTaken = true;
    return verifiedBody(req, verified.payload, { headerChecksum: !op.objectChecksumHeader, leaveToLake });
  };
  const ctx: S3Context = {
    deps,
    req,
    res,
    caller,
    bucket: address.bucket,
    named,
    key: address.key,
    query,
    requestId,
    region: options.region,
    bodyLength: declared,
    body: () => takeBody(),
    bodyForLake: () => {
      const digests = lakeDigests(req.headers, verified.payload);
      return { body: takeBody(digests), digests };
    },
  };
  await op.handler(ctx);
}
