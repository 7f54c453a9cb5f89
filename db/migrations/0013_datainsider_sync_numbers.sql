CREATE TABLE "upload_sync_orgs" (
	"org_id" text PRIMARY KEY NOT NULL,
	"number" integer GENERATED ALWAYS AS IDENTITY (sequence name "upload_sync_orgs_number_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"last_sync_number" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "upload_sync_orgs_number_unique" UNIQUE("number")
);
--> statement-breakpoint
ALTER TABLE "upload_files" ADD COLUMN "history_number" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "upload_files_history_number_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1);--> statement-breakpoint
ALTER TABLE "upload_syncs" ADD COLUMN "org_id" text;--> statement-breakpoint
ALTER TABLE "upload_syncs" ADD COLUMN "sync_number" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "upload_syncs_org_number_idx" ON "upload_syncs" USING btree ("org_id","sync_number");