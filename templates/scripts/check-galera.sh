#!/usr/bin/env bash
# keepalived's track script on a Galera node: exit 0 only when this node's MariaDB is a Synced member
# of the primary component (wsrep_local_state 4, wsrep_ready ON). A joiner, a donor, or a node cut off
# from the majority fails it, gives the database's floating address up, and Harbor never writes there.
#   usage: check-galera.sh SOCKET   (root, by unix_socket authentication: no password on the machine)
set -euo pipefail
socket=${1:?usage: check-galera.sh SOCKET}
status=$(timeout 2 mysql --no-defaults --protocol=socket --socket="$socket" --user=root --batch --skip-column-names \
    --execute="SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_ready')")
grep -qx $'wsrep_local_state\t4' <<<"$status" && grep -qx $'wsrep_ready\tON' <<<"$status"
