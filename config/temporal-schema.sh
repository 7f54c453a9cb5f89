#!/bin/sh
# Creates Temporal's persistence and visibility databases in Postgres and
# brings both schemas to the schema tool's release, with Temporal's own
# schema tool. Safe to re-run, and how a server upgrade is done: an existing
# database is kept and only newer schema versions are applied.
# docker-compose's temporal-schema job runs this file, and so do the cluster
# tests (infra/temporal-cluster.ts).
#   SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD   read by the tool itself
#   DBNAME, VISIBILITY_DBNAME                    default temporal, temporal_visibility
#   TEMPORAL_SQL_TOOL                            default temporal-sql-tool (on PATH)
set -eu
tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}
export SQL_PLUGIN=postgres12
for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db=${pair%%:*}
  "$tool" --database "$db" create-database 2>/dev/null || echo "database $db exists"
  "$tool" --database "$db" setup-schema --version 0.0
  "$tool" --database "$db" update-schema --schema-name "postgresql/v12/${pair##*:}"
done
