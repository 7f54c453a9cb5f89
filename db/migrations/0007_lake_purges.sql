CREATE TABLE "lake_purges" (
	"purge_id" text NOT NULL,
	"bucket_name" text NOT NULL,
	"lake_key" text collate "C" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lake_purges_purge_id_lake_key_pk" PRIMARY KEY("purge_id","lake_key")
);
