ALTER TABLE "jobs" ADD COLUMN "scan_pass" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "scan_cursor" text;