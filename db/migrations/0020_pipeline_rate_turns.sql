CREATE TABLE "pipeline_rate_turns" (
	"pipeline_id" text PRIMARY KEY NOT NULL,
	"next_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pipeline_rate_turns" ADD CONSTRAINT "pipeline_rate_turns_pipeline_id_pipelines_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("id") ON DELETE cascade ON UPDATE no action;