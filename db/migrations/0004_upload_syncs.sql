CREATE TABLE "upload_files" (
	"id" text PRIMARY KEY NOT NULL,
	"sync_id" text NOT NULL,
	"bucket_id" text NOT NULL,
	"file_name" text NOT NULL,
	"key" text collate "C" NOT NULL,
	"size" bigint,
	"sync_status" text DEFAULT 'Syncing' NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"start_time" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"end_time" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "upload_syncs" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"name" text NOT NULL,
	"path" text NOT NULL,
	"sync_type" text NOT NULL,
	"sync_status" text DEFAULT 'Syncing' NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"total_files" integer DEFAULT 0 NOT NULL,
	"num_failed" integer DEFAULT 0 NOT NULL,
	"trashed" integer DEFAULT 0 NOT NULL,
	"message" text,
	"workflow_id" text NOT NULL,
	"start_time" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"end_time" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "upload_files" ADD CONSTRAINT "upload_files_sync_id_upload_syncs_id_fk" FOREIGN KEY ("sync_id") REFERENCES "public"."upload_syncs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upload_syncs" ADD CONSTRAINT "upload_syncs_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "upload_files_sync_idx" ON "upload_files" USING btree ("sync_id","start_time");--> statement-breakpoint
CREATE INDEX "upload_files_bucket_idx" ON "upload_files" USING btree ("bucket_id","start_time");--> statement-breakpoint
CREATE INDEX "upload_syncs_bucket_idx" ON "upload_syncs" USING btree ("bucket_id","start_time");