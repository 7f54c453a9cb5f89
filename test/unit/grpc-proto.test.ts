/**
 * The gRPC surface answers the HTTP routes' JSON (api/grpc/ingest-service.ts
 * renames keys between camelCase and snake_case and nothing else), so the
 * proto must hold exactly the contract's fields: a field added to a contract
 * and not to the proto would be dropped from gRPC answers without a word.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { loadIngestProto } from '../../api/grpc/server.js';
import { DiscoverResult, IngestResult, SyncStatus } from '../../api/contract/sources.js';
import { DiscoverBody, IngestBody } from '../../api/routes/source-schemas.js';
import { SOURCE_STATUSES } from '../../domain/statuses.js';

const definition = loadIngestProto();
const PKG = 'dodil.k3.ingest.v1';
const fieldsOf = (message: string): string[] => {
  const type = (definition[`${PKG}.${message}`] as { type: { field: { name: string }[] } }).type;
  return type.field.map((f) => f.name);
};
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const keys = (schema: z.ZodObject) => Object.keys(schema.shape).sort();

describe('proto/dodil/k3/ingest/v1/ingest.proto', () => {
  it('answers with exactly the HTTP contracts’ fields, in snake_case', () => {
    for (const [message, contract] of [
      ['TriggerDiscoveryResponse', DiscoverResult],
      ['TriggerIngestionResponse', IngestResult],
      ['GetSyncStatusResponse', SyncStatus],
    ] as const) {
      const names = fieldsOf(message);
      for (const n of names) expect(n, `${message}.${n}`).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(names.map(camel).sort(), message).toEqual(keys(contract));
    }
  });

  it('asks for the HTTP bodies’ fields', () => {
    expect(fieldsOf('TriggerDiscoveryRequest').map(camel).sort()).toEqual(keys(DiscoverBody));
    expect(fieldsOf('TriggerIngestionRequest').map(camel).sort()).toEqual(keys(IngestBody));
    expect(fieldsOf('GetSyncStatusRequest').map(camel).sort()).toEqual(['bucket', 'sourceId']);
  });

  it('names the source statuses as the API does', () => {
    const values = (definition[`${PKG}.SourceStatus`] as { type: { value: { name: string; number: number }[] } }).type.value;
    expect(values.map((v) => v.name)).toEqual(['SOURCE_STATUS_UNSPECIFIED', ...SOURCE_STATUSES]);
    expect(values[0]!.number).toBe(0);
  });
});
