#!/usr/bin/env bash
# Sets up PostgreSQL for the Harbor 2.15 cluster, on the database node: the
# Harbor role and its database (SQL_FILE, through psql as the postgres
# superuser), then the Harbor lines of pg_hba.conf (HBA_FILE) at its top,
# between marker lines, and a configuration reload. Safe to run again: a
# second run changes nothing.
#   usage: set-up-postgresql.sh [--dry-run] SQL_FILE HBA_FILE
# HARBORGEN_PG_OS_USER: the system user psql runs as (default postgres).
# psql's own PGHOST and PGPORT say which server (default: the local one).
set -euo pipefail
umask 077
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"

dry_run=false
if [ "${1:-}" = --dry-run ]; then
    dry_run=true
    shift
fi
[ $# -eq 2 ] || { echo "usage: $0 [--dry-run] SQL_FILE HBA_FILE" >&2; exit 2; }
sql=$1
hba_lines=$2
os_user=${HARBORGEN_PG_OS_USER:-postgres}
begin="# BEGIN harborgen $cluster: the Harbor role's lines (database/pg_hba.conf of the bundle)"
end="# END harborgen $cluster"

fail() {
    echo "set-up-postgresql: $*" >&2
    exit 1
}

as_postgres() {
    if [ "$(id -un)" = "$os_user" ]; then
        "$@"
    else
        runuser -u "$os_user" -- "$@"
    fi
}

# note_change TEXT: what this run changed on the machine, for apply.sh's last line (HARBORGEN_CHANGES
# names the file it collects them in; unset when this script runs alone).
note_change() {
    [ -z "${HARBORGEN_CHANGES:-}" ] || printf '%s\n' "$1" >> "$HARBORGEN_CHANGES"
}

psql_run() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 "$@"
}

if [ "$dry_run" = true ]; then
    echo "would run $sql through psql as $os_user"
    echo "would put the lines of $hba_lines at the top of the server's pg_hba.conf and reload"
    exit 0
fi
# On stdin: the filled file is readable by root only.
psql_run -f - < "$sql" || fail "psql failed on $sql: nothing after it was done"
echo "role $database_user and database $database_name are set up"

hba_file=$(psql_run -At -c 'SHOW hba_file') || fail "cannot ask the server where pg_hba.conf is"
[ -f "$hba_file" ] || fail "$hba_file (the server's hba_file) is not a file here: run this on the database node"
# The postgres user owns that directory: root reads, copies the owner of and replaces
# pg_hba.conf only when it is the file itself, never a link put in its place.
[ ! -L "$hba_file" ] || fail "$hba_file is a symbolic link: put the real pg_hba.conf there (root never writes through a link)"
wanted=$(mktemp "$hba_file.harborgen.XXXXXX")
trap 'rm -f "$wanted"' EXIT
{
    echo "$begin"
    grep -v '^#' "$hba_lines"
    echo "$end"
    awk -v begin="$begin" -v end="$end" '$0 == begin { skipping = 1 } !skipping { print } $0 == end { skipping = 0 }' "$hba_file"
} > "$wanted"
if cmp -s "$wanted" "$hba_file"; then
    echo "unchanged: $hba_file"
    exit 0
fi
chown --reference="$hba_file" "$wanted"
chmod --reference="$hba_file" "$wanted"
mv -fT "$wanted" "$hba_file"
psql_run -At -c 'SELECT pg_reload_conf()' >/dev/null
rules=$(psql_run -At -c "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
[ "$rules" = 0 ] || fail "$hba_file has $rules line(s) the server cannot read: see SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL"
note_change "pg_hba.conf: the Harbor lines, and a reload"
echo "wrote the Harbor lines at the top of $hba_file and reloaded the server"
