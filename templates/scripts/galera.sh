#!/usr/bin/env bash
# The Galera cluster of the Harbor database: where each member stands, and the one start that makes
# a new cluster. Bootstrapping the wrong node after a whole-cluster outage throws away every write
# the others had and it had not: this script only bootstraps the node with the highest seqno.
#
#   galera.sh position    this node's state, cluster uuid, seqno and safe_to_bootstrap, one line;
#                         a stopped node's seqno of -1 (it crashed) is recovered with mariadbd --wsrep-recover
#   galera.sh bootstrap   start this node as a new cluster (galera_new_cluster), only when no member
#                         runs, every member answered, and this node is the one to start: the highest
#                         seqno (the first of the members on a tie, or when none ever ran)
#
# Reaches the other members with ${HARBORGEN_SSH:-ssh} (set HARBORGEN_SSH to e.g. "ssh -l admin"),
# as root, and runs this very script there (bash -s position): nothing else is needed on them.
set -euo pipefail

datadir=/var/lib/mysql

# key=value of this node, from the running server or from grastate.dat.
position() {
    local status
    if status=$(mysql --no-defaults --protocol=socket --socket=/run/mysqld/mysqld.sock --user=root --batch --skip-column-names \
        --execute="SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_uuid', 'wsrep_last_committed', 'wsrep_cluster_status')" 2>/dev/null); then
        if ! grep -q '^wsrep_local_state_uuid' <<<"$status"; then
            echo "state=standalone uuid=none seqno=unknown safe_to_bootstrap=0"  # MariaDB runs without Galera
            return
        fi
        local running=running
        # A member that lost the majority keeps running, but takes no writes until a primary component exists again.
        grep -qx $'wsrep_cluster_status\tPrimary' <<<"$status" || running=non-primary
        printf 'state=%s uuid=%s seqno=%s safe_to_bootstrap=0\n' "$running" \
            "$(awk '$1 == "wsrep_local_state_uuid" {print $2}' <<<"$status")" \
            "$(awk '$1 == "wsrep_last_committed" {print $2}' <<<"$status")"
        return
    fi
    local state=$datadir/grastate.dat
    if [ ! -f "$state" ]; then
        echo "state=new uuid=none seqno=-1 safe_to_bootstrap=0"
        return
    fi
    local uuid seqno safe
    uuid=$(awk '$1 == "uuid:" {print $2}' "$state")
    seqno=$(awk '$1 == "seqno:" {print $2}' "$state")
    safe=$(awk '$1 == "safe_to_bootstrap:" {print $2}' "$state")
    if [ "$seqno" = -1 ]; then
        seqno=$(recovered_seqno)
    fi
    # A seqno that stays unknown refuses any bootstrap: that member may hold the latest writes.
    printf 'state=stopped uuid=%s seqno=%s safe_to_bootstrap=%s\n' "${uuid:-none}" "${seqno:-unknown}" "${safe:-0}"
}

# A node that crashed wrote no seqno: InnoDB knows the last one it committed.
recovered_seqno() {
    local log
    log=$(mktemp)
    # The server's log goes to stderr, which this shell (root) writes: mariadbd runs as mysql.
    mariadbd --user=mysql --wsrep-recover --disable-log-error >/dev/null 2>"$log" || true
    sed -n 's/.*WSREP: Recovered position: [0-9a-f-]*:\(-\{0,1\}[0-9]*\).*/\1/p' "$log" | tail -n 1
    rm -f "$log"
}

value_of() {  # value_of KEY LINE
    sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

if [ "${1:-}" = position ]; then
    position
    exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
if [ "${1:-}" != bootstrap ] || [ $# -ne 1 ]; then
    echo "usage: $0 position | bootstrap" >&2
    exit 2
fi
ssh_command=${HARBORGEN_SSH:-ssh}
members=("${galera_members[@]:?values.sh of a Galera node lists them}")
addresses=("${galera_member_addresses[@]:?values.sh of a Galera node lists them}")

refuse() {
    echo "galera.sh: $*: nothing was started" >&2
    exit 1
}

# Every member's position, this node's own without ssh.
declare -A seen=()
unknown=()
for index in "${!members[@]}"; do
    member=${members[$index]}
    if [ "$member" = "$node" ]; then
        line=$(position)
    elif ! line=$($ssh_command "${addresses[$index]}" bash -s position < "${BASH_SOURCE[0]}") || [ -z "$line" ]; then
        unknown+=("$member")
        line="unreachable"
    fi
    seen[$member]=$line
    printf '%-20s %s\n' "$member" "$line"
done

[ ${#unknown[@]} -eq 0 ] || refuse "no position from ${unknown[*]}: a member that cannot be asked may hold the latest writes (bring it up, or its disk, then run this again)"
for member in "${members[@]}"; do
    case $(value_of state "${seen[$member]}") in
        running) refuse "$member runs: the cluster exists; start this node with 'systemctl start mariadb' and it joins" ;;
        non-primary) refuse "$member runs, but in no primary component (the majority is gone): on the running member with the highest seqno, mysql -e \"SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'\" makes it the cluster again; or stop every member and run this again" ;;
        standalone) refuse "$member runs MariaDB without Galera (it reads galera.cnf only when it starts): stop it there (systemctl stop mariadb), then run this again" ;;
    esac
done

# The member to start: the highest seqno; on a tie the one marked safe_to_bootstrap, then the first listed.
chosen="" best=-2 best_safe=0
for member in "${members[@]}"; do
    seqno=$(value_of seqno "${seen[$member]}") safe=$(value_of safe_to_bootstrap "${seen[$member]}")
    [[ $seqno =~ ^-?[0-9]+$ ]] || refuse "$member reports seqno '$seqno', which is no number"
    if [ "$seqno" -gt "$best" ] || { [ "$seqno" -eq "$best" ] && [ "$safe" = 1 ] && [ "$best_safe" = 0 ]; }; then
        chosen=$member best=$seqno best_safe=$safe
    fi
done
uuids=$(for member in "${members[@]}"; do value_of uuid "${seen[$member]}"; done | { grep -vx none || true; } | sort -u)
[ "$(wc -l <<<"$uuids")" -le 1 ] || refuse "the members report different cluster uuids ($(tr '\n' ' ' <<<"$uuids")): they are not one cluster"
if [ "$chosen" != "$node" ]; then
    [ -n "$uuids" ] || refuse "no member ever ran: the first of them, $chosen, starts the cluster"
    refuse "$chosen has the highest seqno ($best): bootstrap there, then start the others"
fi

if [ -f "$datadir/grastate.dat" ] && grep -q '^safe_to_bootstrap: 0' "$datadir/grastate.dat"; then
    # Galera marks only a cleanly stopped last member safe; the seqnos above show this one is.
    echo "marking $datadir/grastate.dat safe_to_bootstrap: this node has the highest seqno of every member"
    sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$datadir/grastate.dat"
fi
echo "bootstrapping a new cluster on $node (seqno $best); then start the others with 'systemctl start mariadb', one at a time"
galera_new_cluster
