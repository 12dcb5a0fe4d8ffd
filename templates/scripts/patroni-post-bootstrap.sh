#!/usr/bin/env bash
# Patroni's post_bootstrap: run once, as postgres, on the member that makes the cluster, right after
# initdb. It creates Harbor's role and database from SQL_FILE (the bundle's database/harbor-role.sql,
# installed beside patroni.yml); apply.sh runs the same file on the leader after a change of it.
#   usage: patroni-post-bootstrap.sh SQL_FILE CONNINFO   (Patroni appends CONNINFO, the superuser's)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SQL_FILE CONNINFO" >&2; exit 2; }
exec psql -X -q -v ON_ERROR_STOP=1 --dbname="$2" --file="$1"
