#!/usr/bin/env bash
# Loads Harbor 1.1.2's schema (the installer's registry.sql) into the
# cluster's database, but only when that database has no table at all:
# Harbor 1.1.2 never creates its tables itself, and the stock file starts
# with 'drop database', which must never meet live data.
#   usage: load-schema.sh REGISTRY_SQL
# Connects with the standard mysql client and its usual settings (option
# files, MYSQL_HOST, MYSQL_TCP_PORT, MYSQL_UNIX_PORT, ...), as an account
# allowed to create tables in the database.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
database=$database_name

[ $# -eq 1 ] || { echo "usage: $0 REGISTRY_SQL" >&2; exit 2; }
schema=$1
[ -r "$schema" ] || { echo "load-schema: cannot read $schema" >&2; exit 1; }

tables=$(mysql --batch --skip-column-names \
    --execute="SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$database'")
if [ "$tables" != 0 ]; then
    echo "load-schema: database $database already has $tables table(s): schema not loaded, nothing changed" >&2
    exit 0
fi

# The stock file drops and recreates its own database and switches to it:
# strip exactly those statements, so that it loads into ours and nothing else.
statements=$(sed -E \
    -e '/^[[:space:]]*drop[[:space:]]+database[[:space:]]+if[[:space:]]+exists[[:space:]]+registry[[:space:]]*;[[:space:]]*$/Id' \
    -e '/^[[:space:]]*create[[:space:]]+database[[:space:]]+registry[[:space:]].*;[[:space:]]*$/Id' \
    -e '/^[[:space:]]*use[[:space:]]+registry[[:space:]]*;[[:space:]]*$/Id' \
    "$schema")
if grep -qiE '(drop|create)[[:space:]]+(database|schema)|^[[:space:]]*use[[:space:]]' <<<"$statements"; then
    echo "load-schema: $schema drops, creates or switches databases beyond the stock header: refusing to load it" >&2
    exit 1
fi

# registry.sql gives the library project to user 1: ids must count 1, 2, 3 (goharbor/harbor#2141).
# Galera steps them by the cluster's size unless wsrep_auto_increment_control is off (galera.cnf).
steps=$(mysql --batch --skip-column-names --execute="SELECT CONCAT(@@auto_increment_increment, ' ', @@auto_increment_offset)")
if [ "$steps" != "1 1" ]; then
    echo "load-schema: this server numbers new rows with increment and offset $steps: the library project would not belong to admin (goharbor/harbor#2141); expected 1 1 (on Galera: wsrep_auto_increment_control = OFF)" >&2
    exit 1
fi

# MySQL 5.7's default strict mode rejects parts of the 1.1.2 schema; this
# session mode loads it on MySQL 5.7 and MariaDB alike.
{
    echo "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';"
    printf '%s\n' "$statements"
    if [ "${database_engine:?values.sh of a database node names it}" = galera ]; then
        # Galera replicates a table without a primary key by whole-row images, and may apply its
        # deletes out of order: alembic_version (one row, the schema's version) gets its natural key.
        echo "ALTER TABLE alembic_version ADD PRIMARY KEY (version_num);"
    fi
} | mysql --database="$database"
echo "loaded Harbor's schema into $database"
