DROP INDEX "source_objects_status_idx";--> statement-breakpoint
CREATE INDEX "source_objects_status_key_idx" ON "source_objects" USING btree ("source_id","status","key");