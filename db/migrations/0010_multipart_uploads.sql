CREATE TABLE "multipart_parts" (
	"upload_id" text NOT NULL,
	"part_number" integer NOT NULL,
	"etag" text NOT NULL,
	"size" bigint NOT NULL,
	"lake_part" text NOT NULL,
	"uploaded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "multipart_parts_upload_id_part_number_pk" PRIMARY KEY("upload_id","part_number"),
	CONSTRAINT "multipart_parts_number_check" CHECK ("multipart_parts"."part_number" between 1 and 10000)
);
--> statement-breakpoint
CREATE TABLE "multipart_uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"bucket_id" text NOT NULL,
	"key" text collate "C" NOT NULL,
	"org_id" text NOT NULL,
	"access_key_id" text,
	"metadata" jsonb NOT NULL,
	"lake_handle" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"completed_etag" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"seq" bigserial NOT NULL
);
--> statement-breakpoint
ALTER TABLE "multipart_parts" ADD CONSTRAINT "multipart_parts_upload_id_multipart_uploads_id_fk" FOREIGN KEY ("upload_id") REFERENCES "public"."multipart_uploads"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "multipart_uploads" ADD CONSTRAINT "multipart_uploads_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "multipart_uploads_bucket_key_idx" ON "multipart_uploads" USING btree ("bucket_id","key","seq");--> statement-breakpoint
CREATE INDEX "multipart_uploads_created_idx" ON "multipart_uploads" USING btree ("created_at");