#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d): one role and one
# database per app, each role owning only its own database. Keep the list in step with civic.config.DOMAINS
# plus the gateway (a test checks it).
set -eu
: "${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD: the password of the per-service database roles}"

for db in assistance eldercare marriage funeral placenames gateway; do
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v db="$db" -v pw="$SERVICE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"db" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"db";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
done
