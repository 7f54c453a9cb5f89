CREATE TABLE "buckets" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text DEFAULT 'default' NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "buckets_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"source_id" text NOT NULL,
	"kind" text NOT NULL,
	"trigger" text NOT NULL,
	"status" text DEFAULT 'JOB_STATUS_PENDING' NOT NULL,
	"full_sync" boolean DEFAULT false NOT NULL,
	"retry_failed" boolean DEFAULT false NOT NULL,
	"source_object_id" text,
	"rule_id" text,
	"objects_listed" bigint DEFAULT 0 NOT NULL,
	"objects_discovered" bigint DEFAULT 0 NOT NULL,
	"objects_processed" bigint DEFAULT 0 NOT NULL,
	"objects_indexed" bigint DEFAULT 0 NOT NULL,
	"objects_failed" bigint DEFAULT 0 NOT NULL,
	"objects_skipped" bigint DEFAULT 0 NOT NULL,
	"objects_deleted" bigint DEFAULT 0 NOT NULL,
	"bytes_transferred" bigint DEFAULT 0 NOT NULL,
	"error" text,
	"workflow_id" text,
	"run_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "source_objects" (
	"id" text PRIMARY KEY NOT NULL,
	"source_id" text NOT NULL,
	"key" text collate "C" NOT NULL,
	"etag" text NOT NULL,
	"size" bigint NOT NULL,
	"last_modified" timestamp with time zone,
	"content_hash" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"seen_pass" integer DEFAULT 0 NOT NULL,
	"pending_job_id" text,
	"last_job_id" text,
	"lake_key" text,
	"ingested_etag" text,
	"ingested_at" timestamp with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"connection" jsonb NOT NULL,
	"sealed_credentials" text,
	"sync_mode" text DEFAULT 'continuous' NOT NULL,
	"sync_interval_seconds" integer DEFAULT 300 NOT NULL,
	"batch_size" integer DEFAULT 50 NOT NULL,
	"target_prefix" text DEFAULT '' NOT NULL,
	"max_objects_per_run" integer DEFAULT 100000 NOT NULL,
	"skip_duplicates" boolean DEFAULT false NOT NULL,
	"filters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"reconcile" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'SOURCE_STATUS_ACTIVE' NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"pause_reason" text,
	"paused_at" timestamp with time zone,
	"last_sync_at" timestamp with time zone,
	"last_success_at" timestamp with time zone,
	"next_sync_at" timestamp with time zone,
	"last_error" text,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"workflow_id" text NOT NULL,
	"current_job_id" text,
	"last_job_id" text,
	"scan_pass" integer DEFAULT 0 NOT NULL,
	"total_objects_discovered" bigint DEFAULT 0 NOT NULL,
	"total_objects_synced" bigint DEFAULT 0 NOT NULL,
	"total_objects_failed" bigint DEFAULT 0 NOT NULL,
	"total_bytes_synced" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_source_id_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "public"."sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "source_objects" ADD CONSTRAINT "source_objects_source_id_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "public"."sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_source_created_idx" ON "jobs" USING btree ("source_id","created_at");--> statement-breakpoint
CREATE INDEX "jobs_bucket_created_idx" ON "jobs" USING btree ("bucket_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "source_objects_source_key_idx" ON "source_objects" USING btree ("source_id","key");--> statement-breakpoint
CREATE INDEX "source_objects_pending_idx" ON "source_objects" USING btree ("pending_job_id","key") WHERE "source_objects"."pending_job_id" is not null;--> statement-breakpoint
CREATE INDEX "source_objects_status_idx" ON "source_objects" USING btree ("source_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "sources_bucket_name_idx" ON "sources" USING btree ("bucket_id","name");