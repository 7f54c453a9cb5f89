-- Syncs started before 0013 get their organisation and a sync_id too, numbered in start order, so both surfaces show every sync.
UPDATE "upload_syncs" s SET "org_id" = b."org_id" FROM "buckets" b WHERE b."id" = s."bucket_id" AND s."org_id" IS NULL;--> statement-breakpoint
UPDATE "upload_syncs" s SET "sync_number" = n."number"
FROM (SELECT "id", row_number() OVER (PARTITION BY "org_id" ORDER BY "start_time", "id") AS "number" FROM "upload_syncs") n
WHERE n."id" = s."id" AND s."sync_number" IS NULL;--> statement-breakpoint
INSERT INTO "upload_sync_orgs" ("org_id", "last_sync_number")
SELECT "org_id", max("sync_number") FROM "upload_syncs" WHERE "org_id" IS NOT NULL GROUP BY "org_id"
ON CONFLICT ("org_id") DO UPDATE SET "last_sync_number" = greatest("upload_sync_orgs"."last_sync_number", excluded."last_sync_number");
