CREATE TABLE "job_batches" (
	"job_id" text NOT NULL,
	"last_key" text collate "C" NOT NULL,
	CONSTRAINT "job_batches_job_id_last_key_pk" PRIMARY KEY("job_id","last_key")
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "scan_finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "paused_by" text;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "created_by" text;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "run_counter" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "batches_created" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "job_batches" ADD CONSTRAINT "job_batches_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;