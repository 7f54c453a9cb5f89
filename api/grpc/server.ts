/**
 * The API's gRPC server: K3's IngestService (proto/dodil/k3/ingest/v1/) with
 * server reflection, so `grpcurl` needs no .proto. It runs in the API process
 * beside the HTTP server, on HOST and GRPC_PORT, and stops with it.
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { IDescriptorProto } from 'protobufjs/ext/descriptor.js';
import type { ApiDeps } from '../deps.js';
import { camel, ingestService } from './ingest-service.js';

/** proto/ from the sources, dist/proto from a build (infra/build-assets.ts copies it there). */
const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
const INGEST_PROTO = 'dodil/k3/ingest/v1/ingest.proto';
const INGEST_SERVICE = 'dodil.k3.ingest.v1.IngestService';

/** As the HTTP API's JSON body limit: a larger message is refused (RESOURCE_EXHAUSTED) before it is decoded. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface GrpcServer {
  /** host:port it listens on (the port chosen when GRPC_PORT is 0). */
  address: string;
  /** Stops taking calls and lets calls in flight finish for at most `graceMs`, then cuts them. True when nothing had to be cut. */
  stop(graceMs: number): Promise<boolean>;
}

/** The proto as loaded for serving and reflection: the proto's own (snake_case) field names, int64 as decimal strings, enums by name. */
export const loadIngestProto = () => loadSync(INGEST_PROTO, { includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: false });

// CommonJS, and its message types are built at load: require gives them whole.
const { FileDescriptorProto } = createRequire(import.meta.url)('protobufjs/ext/descriptor') as typeof import('protobufjs/ext/descriptor.js');

/**
 * The definition reflection serves, with what proto-loader's descriptors
 * leave out put back: each field's json_name (without it grpcurl renders
 * responses in snake_case, where K3's Conventions and the HTTP API have
 * camelCase) and proto3_optional (without it an `optional` field shows as a
 * oneof of its own, the `_<name>` one protobufjs makes for it).
 */
function forReflection(definition: PackageDefinition): PackageDefinition {
  const named = (bin: Buffer): Buffer => {
    const file = FileDescriptorProto.decode(bin);
    const visit = (m: IDescriptorProto): void => {
      const oneofs = (m.oneofDecl ?? []).map((o) => o.name);
      for (const f of m.field ?? []) {
        if (f.name && !f.jsonName) f.jsonName = camel(f.name);
        // Decoded messages answer 0 for an unset oneof_index: only one on the wire counts.
        if (Object.hasOwn(f, 'oneofIndex') && oneofs[f.oneofIndex!] === `_${f.name}`) f.proto3Optional = true;
      }
      m.nestedType?.forEach(visit);
    };
    file.messageType?.forEach(visit);
    return Buffer.from(FileDescriptorProto.encode(file).finish());
  };
  // Messages and enums carry their files' descriptors; services (objects of methods) do not.
  const files = (d: object): Buffer[] | null =>
    'fileDescriptorProtos' in d && Array.isArray(d.fileDescriptorProtos) ? (d.fileDescriptorProtos as Buffer[]) : null;
  return Object.fromEntries(
    Object.entries(definition).map(([name, d]) => [name, files(d) ? { ...d, fileDescriptorProtos: files(d)!.map(named) } : d]),
  ) as PackageDefinition;
}

export async function startGrpcServer(deps: ApiDeps, host: string, port: number): Promise<GrpcServer> {
  const definition = loadIngestProto();
  const server = new Server({ 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES });
  server.addService(definition[INGEST_SERVICE] as ServiceDefinition, ingestService(deps));
  new ReflectionService(forReflection(definition)).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${isIP(host) === 6 ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const address = `${isIP(host) === 6 ? `[${host}]` : host}:${bound}`;
  deps.log.info({ grpcAddress: address }, `gRPC API listening on ${address}`);
  return {
    address,
    stop: (graceMs) =>
      new Promise<boolean>((resolve) => {
        const cut = setTimeout(() => {
          server.forceShutdown();
          resolve(false);
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(cut);
          resolve(true);
        });
      }),
  };
}
