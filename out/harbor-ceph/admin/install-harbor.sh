#!/usr/bin/env bash
# The install step of a Harbor node, run instead of the installer's ./install.sh,
# after apply.sh. It refuses to go on unless the node is safe to start:
#   - the Harbor directory is a mounted CephFS (else Harbor 1.1.2 deletes the
#     database rows of every repository it cannot see);
#   - the cluster's secretkey is there, and it is the one apply.sh installed
#     (else prepare silently makes a new one and this node encrypts apart).
# Then it loads the offline installer's images (harbor*.tar.gz), as install.sh
# does, runs the stock prepare under umask 077, leaves every secret-bearing
# file prepare wrote readable by root only (Harbor 1.1.2's containers run as
# root), removes common/config/db/env (the database password, for a database
# container the cluster never runs), starts Harbor with docker-compose, and
# waits until the node answers: start the next node only after that.
#   usage: install-harbor.sh [--root DIR]
#   --root DIR  act under DIR (for tests)
# HARBORGEN_START_TIMEOUT: seconds to wait for the node to answer (default 600).
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/values.sh
. "$here/values.sh"

root=""
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift ;;
        *) echo "usage: $0 [--root DIR]" >&2; exit 2 ;;
    esac
    shift
done

fail() {
    echo "install-harbor: $*" >&2
    exit 1
}

mount_path="$root$cephfs_harbor_root"
secretkey="$root$secretkey_path"
record="$root/var/lib/harborgen/$cluster/secretkey.sha256"
installer="$root$installer_dir"

# Files prepare writes that hold a secret: passwords, the UI and jobservice
# secrets, the registry http secret, the token key; with https, the nodes' key.
secret_bearing=(
    common/config/adminserver/env
    common/config/ui/env
    common/config/jobservice/env
    common/config/registry/config.yml
    common/config/ui/private_key.pem
)

check_mounted() {
    mountpoint -q "$mount_path" \
        || fail "$mount_path is not mounted: run apply.sh (it mounts CephFS). Harbor must never start without it"
    local type
    type=$(findmnt --noheadings --output FSTYPE --mountpoint "$mount_path")
    case "$type" in
        ceph | fuse.ceph | fuse.ceph-fuse) ;;
        *) fail "$mount_path is a $type mount, not CephFS: refusing to start Harbor on it" ;;
    esac
}

check_secretkey() {
    [ -s "$secretkey" ] || fail "no secretkey at $secretkey: run apply.sh first (prepare would make a new one that no other node shares)"
    [ -f "$record" ] || fail "no record of the secretkey apply.sh installed ($record): run apply.sh first"
    [ "$(sha256sum < "$secretkey" | cut -d' ' -f1)" = "$(cat "$record")" ] \
        || fail "the secretkey at $secretkey is not the one apply.sh installed: is this the cluster's CephFS? Run apply.sh again"
}

lock_down() {
    local path
    for path in "${secret_bearing[@]}" common/config/nginx/cert/*; do
        [ -f "$path" ] && chmod 0600 "$path"
    done
    rm -f common/config/db/env
    local exposed
    exposed=$(find common/config -type f -perm /077 \( -name env -o -name '*.pem' -o -name '*.key' -o -name config.yml \))
    [ -z "$exposed" ] || fail "still readable by others after prepare: $exposed"
    echo "secret-bearing files of common/config are readable by root only; common/config/db/env removed"
}

load_images() {
    local archive
    for archive in harbor*.tar.gz; do
        [ -f "$archive" ] || continue
        echo "== docker load -i $archive"
        docker load -i "$archive"
    done
}

wait_until_answering() {
    local deadline=$((SECONDS + ${HARBORGEN_START_TIMEOUT:-600}))
    until curl --silent --insecure --fail --output /dev/null --max-time 10 "$node_url"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "Harbor does not answer on $node_url after ${HARBORGEN_START_TIMEOUT:-600} s: look at its logs before starting another node"
        sleep "${HARBORGEN_POLL_SECONDS:-5}"
    done
    echo "Harbor answers on $node_url: the next node may start"
}

check_mounted
check_secretkey
cd "$installer"
load_images
echo "== prepare (umask 077)"
./prepare
lock_down
echo "== docker-compose up -d"
docker-compose up -d
wait_until_answering
