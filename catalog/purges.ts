import { sql } from 'drizzle-orm';
import type { ISql } from 'postgres';
import type { Db } from '../db/client.js';
import { drizzleLit, lit, OBJECT_STATUS as S } from './status.js';
import { isPushed, type SourceKind } from '../domain/kinds.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Owes a purge of what a source put in the lake, in the transaction that
 * deletes the source. A key another source of the bucket also holds
 * (skipDuplicates, or the same prefix) stays. Objects still owed a copy are
 * purged by the key they would land at (`prefix` + key): a batch cancelled
 * with the source may still be writing them. Returns how many keys it owes.
 */
export async function owePurge(tx: Tx, source: { id: string; kind: SourceKind; bucketId: string; bucketName: string; prefix: string }): Promise<number> {
  const rows = await tx.execute(sql`
          insert into lake_purges (purge_id, bucket_name, lake_key)
          select ${source.id}, ${source.bucketName}, k.lake_key from (
            select coalesce(so.lake_key, ${source.prefix} || so.key) as lake_key from source_objects so
            where so.source_id = ${source.id} and (so.lake_key is not null or (so.status = ${drizzleLit(S.pending)} and ${!isPushed(source.kind)}::boolean))
          ) k
          where not exists (
            select 1 from source_objects o2 join sources s2 on s2.id = o2.source_id
            where s2.bucket_id = ${source.bucketId} and o2.source_id <> ${source.id} and o2.lake_key = k.lake_key and o2.status <> ${drizzleLit(S.deleted)})
          on conflict do nothing`);
  return rows.count;
}

/** The next keys a purge owes. */
export async function purgePage(sql: ISql, purgeId: string): Promise<{ bucket_name: string; lake_key: string }[]> {
  return sql`select bucket_name, lake_key from lake_purges where purge_id = ${purgeId} order by lake_key limit 500`;
}

/** Of these keys, those a live source object holds now (re-created on the same prefix, pushed again): they stay. */
export async function heldLakeKeys(sql: ISql, lakeKeys: readonly string[]): Promise<{ bucket_name: string; lake_key: string }[]> {
  return sql`
              select b.name as bucket_name, so.lake_key from source_objects so
              join sources s on s.id = so.source_id join buckets b on b.id = s.bucket_id
              where so.lake_key = any(${lakeKeys as string[]}) and so.status <> ${lit(sql, S.deleted)}`;
}

/** These keys are dealt with: removed from the lake, held, or never storable. */
export async function clearPurged(sql: ISql, purgeId: string, lakeKeys: readonly string[]): Promise<void> {
  await sql`delete from lake_purges where purge_id = ${purgeId} and lake_key = any(${lakeKeys as string[]})`;
}
