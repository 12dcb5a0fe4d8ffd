#!/usr/bin/env bash
# Moves the data of this node's bundled harbor-db (a single-node Harbor from
# before the cluster) into the cluster's external database: dump, keep a
# copy, load. Run it once, on the node that has the data, after apply.sh and
# before Harbor starts with the new configuration.
#   usage: migrate-harbor-db.sh [--old-secretkey FILE] [DUMP_FILE]   (default ./registry-dump.sql, mode 0600)
#   --old-secretkey FILE  the old node's secretkey (default: secretkey_path of the harbor.cfg
#                         apply.sh replaced, harbor.cfg.harborgen-orig, else /data, + /secretkey)
# Harbor 1.1.2 encrypts the passwords of replication targets in the database
# with the node's secretkey: the cluster must go on with that very key, or it
# cannot read them. The script refuses to migrate unless the two keys are one.
# No password is ever on a command line: the harbor-db root password stays
# inside its container, and the external database's password is read from the
# installed harbor.cfg and handed to mysql as an option file on a pipe.
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
old_secretkey=""
if [ "${1:-}" = --old-secretkey ]; then
    old_secretkey=${2:?--old-secretkey needs a file}
    shift 2
fi
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

if [ -z "$old_secretkey" ]; then
    old_directory=$(sed -n 's/^secretkey_path[[:space:]]*=[[:space:]]*//p' "$config.harborgen-orig" 2>/dev/null | tail -n 1)
    old_secretkey="${old_directory:-/data}/secretkey"
fi
[ -s "$old_secretkey" ] || fail "no secretkey at $old_secretkey: give the old node's key with --old-secretkey FILE"
cmp -s "$old_secretkey" "$secretkey_path" || fail "the old node's secretkey ($old_secretkey) is not the cluster's harbor_secretkey ($secretkey_path): \
the passwords of replication targets in this database are encrypted with the old key, and the cluster could not read them. \
Put the content of $old_secretkey into the secrets file as harbor_secretkey, make the packs again, remove $secretkey_path \
(no cluster node may have started yet), run apply.sh on this node again, then run this script again. Nothing was migrated."
echo "the cluster's secretkey is the old node's: stored passwords stay readable"
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
echo "done. Now stop and remove the old single-node containers, harbor-db included, with the compose file"
echo "they were started from: cd $installer_dir && docker-compose -f docker-compose.yml.harborgen-orig down"
echo "(plain 'docker-compose down' reads the new file, which has no mysql service, and would leave harbor-db running;"
echo "'docker rm -f harbor-db' also does it). Then start this node with install-harbor.sh."
