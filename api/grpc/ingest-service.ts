/**
 * K3's IngestService over gRPC: the Sync routes' second surface. Each RPC
 * authenticates like the HTTP API (the same bearer check and the scope of its
 * HTTP route), validates its request with the HTTP body's schema, calls the
 * function the HTTP handler calls (api/routes/sync.ts) and answers the HTTP
 * route's JSON; an error is the same ApiError, with its gRPC status code.
 */
import { Metadata, type ServerUnaryCall, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { z } from 'zod';
import { text } from '../../domain/text.js';
import { bearerToken, requireScope, type Caller } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { asApiError } from '../errors.js';
import { DiscoverBody, IngestBody } from '../routes/source-schemas.js';
import { SYNC_ROUTES, syncStatus, triggerDiscovery, triggerIngestion } from '../routes/sync.js';

/**
 * Proto field names are the HTTP JSON names in snake_case (test/unit/grpc-proto.test.ts holds them to it); this is
 * protobuf's own JSON name of a field: each letter after an underscore upper-cased.
 */
export const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const rekey = (o: object, to: (name: string) => string): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [to(k), v]));

/** In the path over HTTP, in the message over gRPC: required here, checked like any text from the edge. */
const target = { bucket: text().min(1), sourceId: text().min(1) };
const REQUESTS = {
  TriggerDiscovery: DiscoverBody.extend(target),
  TriggerIngestion: IngestBody.extend(target),
  GetSyncStatus: z.object(target).strict(),
};
type Rpc = keyof typeof REQUESTS;

/** Each RPC's HTTP route, whose scope it needs. */
const ROUTE_OF = { TriggerDiscovery: 'discover', TriggerIngestion: 'ingest', GetSyncStatus: 'status' } as const satisfies Record<Rpc, keyof typeof SYNC_ROUTES>;

function callerToken(metadata: Metadata): string {
  const [value] = metadata.get('authorization');
  return bearerToken(typeof value === 'string' ? value : undefined);
}

export function ingestService(deps: ApiDeps): UntypedServiceImplementation {
  const log = deps.log.child({ surface: 'grpc' });

  const unary =
    <R extends Rpc>(rpc: R, serve: (caller: Caller, request: z.infer<(typeof REQUESTS)[R]>) => Promise<object>) =>
    (call: ServerUnaryCall<object, object>, callback: sendUnaryData<object>): void => {
      const started = performance.now();
      const fields: Record<string, unknown> = { rpc };
      const scope = SYNC_ROUTES[ROUTE_OF[rpc]].scope;
      const answer = async (): Promise<object> => {
        // Authentication first, as over HTTP: without a valid token nothing about the request is looked at.
        const caller = await deps.auth.verify(callerToken(call.metadata));
        requireScope(caller, scope);
        const parsed = REQUESTS[rpc].safeParse(rekey(call.request, camel));
        if (!parsed.success) throw parsed.error;
        const request = parsed.data as z.infer<(typeof REQUESTS)[R]>;
        Object.assign(fields, { bucket: request.bucket, sourceId: request.sourceId });
        const response = await serve(caller, request);
        if ('jobId' in response && response.jobId) fields.jobId = response.jobId;
        return response;
      };
      answer().then(
        (response) => {
          log.info({ ...fields, code: 'OK', ms: Math.round(performance.now() - started) }, `gRPC ${rpc}`);
          callback(null, rekey(response, snake));
        },
        (err: unknown) => {
          const e = asApiError(err, log, fields);
          log[e.code === 'INTERNAL' || e.code === 'UNAVAILABLE' ? 'error' : 'warn'](
            { ...fields, code: e.code, ms: Math.round(performance.now() - started) },
            `gRPC ${rpc}`,
          );
          const metadata = new Metadata();
          if (e.retryAfterSeconds !== undefined) metadata.set('retry-after', String(e.retryAfterSeconds));
          callback({ code: e.grpcStatus, details: e.message, metadata });
        },
      );
    };

  return {
    TriggerDiscovery: unary('TriggerDiscovery', (caller, r) => triggerDiscovery(deps, caller.org, r.bucket, r.sourceId, r)),
    TriggerIngestion: unary('TriggerIngestion', (caller, r) => triggerIngestion(deps, caller.org, r.bucket, r.sourceId, r)),
    GetSyncStatus: unary('GetSyncStatus', (caller, r) => syncStatus(deps, caller.org, r.bucket, r.sourceId)),
  };
}
