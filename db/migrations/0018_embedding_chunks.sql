CREATE TABLE "embedding_chunks" (
	"object_id" text NOT NULL,
	"pipeline_id" text NOT NULL,
	"seq" integer NOT NULL,
	"bucket_id" text NOT NULL,
	"lake_key" text collate "C" NOT NULL,
	"etag" text NOT NULL,
	"signature" text NOT NULL,
	"start_offset" integer NOT NULL,
	"end_offset" integer NOT NULL,
	"body" text NOT NULL,
	"embedding" "bytea" NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "embedding_chunks_object_id_pipeline_id_seq_pk" PRIMARY KEY("object_id","pipeline_id","seq")
);
--> statement-breakpoint
ALTER TABLE "embedding_chunks" ADD CONSTRAINT "embedding_chunks_object_id_source_objects_id_fk" FOREIGN KEY ("object_id") REFERENCES "public"."source_objects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "embedding_chunks" ADD CONSTRAINT "embedding_chunks_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "embedding_chunks_bucket_key_idx" ON "embedding_chunks" USING btree ("bucket_id","lake_key");