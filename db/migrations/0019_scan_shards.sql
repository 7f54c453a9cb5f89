CREATE TABLE "scan_shards" (
	"job_id" text NOT NULL,
	"shard" integer NOT NULL,
	"after_key" text collate "C",
	"up_to" text collate "C",
	"cursor" text collate "C",
	"listed" bigint DEFAULT 0 NOT NULL,
	"pages" bigint DEFAULT 0 NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "scan_shards_job_id_shard_pk" PRIMARY KEY("job_id","shard")
);
--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "shards" integer;--> statement-breakpoint
ALTER TABLE "scan_shards" ADD CONSTRAINT "scan_shards_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;