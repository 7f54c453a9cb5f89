import type { Server } from 'node:http';
import { createApp } from '../api/app.js';
import type { ApiDeps } from '../api/deps.js';
import { startGrpcServer, type GrpcServer } from '../api/grpc/server.js';
import { startStep } from '../infra/startup-failure.js';

export interface ApiServers {
  server: Server;
  grpc: GrpcServer;
  url: string | undefined;
}

/**
 * The HTTP and gRPC servers over `deps`. Loaded only where an API runs
 * (workers/app-runtime.ts imports it when asked to): express, the routers
 * and gRPC with its reflection are about 11 MiB of a worker's RSS otherwise.
 */
export async function startApiServers(deps: ApiDeps, host: string, port: number, grpcPort: number): Promise<ApiServers> {
  const app = createApp(deps);
  // Express 5 calls the listen callback with the error when the bind fails: resolving on it would run on without an API.
  const server = await startStep(
    'API',
    () =>
      new Promise<Server>((resolve, reject) => {
        const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
      }),
    'set PORT to use another',
  );
  // GRPC_PORT taken: leave no HTTP server listening behind the failed start.
  const grpc = await startStep('gRPC API', () => startGrpcServer(deps, host, grpcPort), 'set GRPC_PORT to use another').catch((err: unknown) => {
    server.close();
    throw err;
  });
  const addr = server.address();
  return { server, grpc, url: typeof addr === 'object' && addr ? `http://${host}:${addr.port}` : undefined };
}
