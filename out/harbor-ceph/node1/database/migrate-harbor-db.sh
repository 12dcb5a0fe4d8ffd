#!/usr/bin/env bash
# Moves the data of this node's bundled harbor-db (a single-node Harbor from
# before the cluster) into the cluster's external database: dump, keep a
# copy, load. Run it once, on the node that has the data, after apply.sh and
# before Harbor starts with the new configuration.
#   usage: migrate-harbor-db.sh [DUMP_FILE]   (default ./registry-dump.sql, mode 0600)
# No password is ever on a command line: the harbor-db root password stays
# inside its container, and the external database's password is read from the
# installed harbor.cfg and handed to mysql as an option file on a pipe.
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
dump=${1:-registry-dump.sql}
config="$installer_dir/harbor.cfg"
host=$database_host
port=$database_port
user=$database_user
database=$database_name

fail() {
    echo "migrate-harbor-db: $*" >&2
    exit 1
}

docker container inspect harbor-db >/dev/null 2>&1 || fail "no harbor-db container on this node: nothing to migrate"
password=$(sed -n 's/^db_password = //p' "$config")
[ -n "$password" ] || fail "no db_password in $config: run apply.sh first"
case "$password" in *HARBORGEN_SECRET*) fail "$config still holds a placeholder: run apply.sh with the secrets file first" ;; esac

external_mysql() {
    mysql --defaults-extra-file=<(printf '[client]\nuser=%s\npassword="%s"\nhost=%s\nport=%s\n' \
        "$user" "${password//\"/\\\"}" "$host" "$port") "$@"
}

tables=$(external_mysql --batch --skip-column-names \
    --execute="SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$database'")
[ "$tables" = 0 ] || fail "$database on $host already has $tables table(s): refusing to load over them"

echo "dumping registry from harbor-db into $dump"
docker exec harbor-db sh -c 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysqldump --single-transaction -u root registry' > "$dump"
echo "loading $dump into $database on $host:$port"
external_mysql "$database" < "$dump"
echo "done: stop and remove harbor-db (docker-compose down) before starting the cluster's Harbor"
