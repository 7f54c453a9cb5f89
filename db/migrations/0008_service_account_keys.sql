CREATE TABLE "service_account_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"sealed_secret" text,
	"scopes" text[] NOT NULL,
	"buckets" text[],
	"description" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "service_account_keys_org_idx" ON "service_account_keys" USING btree ("org_id","id");