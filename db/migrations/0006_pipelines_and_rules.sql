CREATE TABLE "fulltext_documents" (
	"object_id" text NOT NULL,
	"pipeline_id" text NOT NULL,
	"bucket_id" text NOT NULL,
	"lake_key" text collate "C" NOT NULL,
	"etag" text NOT NULL,
	"body" text NOT NULL,
	"tsv" "tsvector" NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "fulltext_documents_object_id_pipeline_id_pk" PRIMARY KEY("object_id","pipeline_id")
);
--> statement-breakpoint
CREATE TABLE "object_pipeline_runs" (
	"object_id" text NOT NULL,
	"pipeline_id" text NOT NULL,
	"status" text NOT NULL,
	"etag" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"detail" text,
	"error" text,
	"job_id" text,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "object_pipeline_runs_object_id_pipeline_id_pk" PRIMARY KEY("object_id","pipeline_id")
);
--> statement-breakpoint
CREATE TABLE "pipelines" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"config" jsonb NOT NULL,
	"sealed_secret" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rules" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"name" text NOT NULL,
	"pipeline_ids" jsonb NOT NULL,
	"match" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "source_objects" ADD COLUMN "process_job_id" text;--> statement-breakpoint
ALTER TABLE "fulltext_documents" ADD CONSTRAINT "fulltext_documents_object_id_source_objects_id_fk" FOREIGN KEY ("object_id") REFERENCES "public"."source_objects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fulltext_documents" ADD CONSTRAINT "fulltext_documents_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_pipeline_runs" ADD CONSTRAINT "object_pipeline_runs_object_id_source_objects_id_fk" FOREIGN KEY ("object_id") REFERENCES "public"."source_objects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_pipeline_runs" ADD CONSTRAINT "object_pipeline_runs_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rules" ADD CONSTRAINT "rules_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "fulltext_documents_tsv_idx" ON "fulltext_documents" USING gin ("tsv");--> statement-breakpoint
CREATE INDEX "fulltext_documents_bucket_key_idx" ON "fulltext_documents" USING btree ("bucket_id","lake_key");--> statement-breakpoint
CREATE INDEX "object_pipeline_runs_job_idx" ON "object_pipeline_runs" USING btree ("job_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_bucket_name_idx" ON "pipelines" USING btree ("bucket_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "rules_bucket_name_idx" ON "rules" USING btree ("bucket_id","name");--> statement-breakpoint
CREATE INDEX "source_objects_process_idx" ON "source_objects" USING btree ("process_job_id","key") WHERE "source_objects"."process_job_id" is not null;--> statement-breakpoint
CREATE INDEX "source_objects_lake_key_idx" ON "source_objects" USING btree ("lake_key");