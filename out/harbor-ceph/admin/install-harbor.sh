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
#   usage: install-harbor.sh [--wait] [--root DIR]
#   --wait      install nothing: only wait until the node answers (a rollout's step for a node
#               whose bundle did not change)
#   --root DIR  act under DIR (for tests)
# HARBORGEN_START_TIMEOUT: seconds to wait for the node to answer (default 600).
set -euo pipefail
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/values.sh
. "$here/values.sh"
# shellcheck source=SCRIPTDIR/install-steps.sh
. "$here/install-steps.sh"

root=""
wait_only=false
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift ;;
        --wait) wait_only=true ;;
        *) echo "usage: $0 [--wait] [--root DIR]" >&2; exit 2 ;;
    esac
    shift
done
probe_url="$node_url"
if [ "$wait_only" = true ]; then
    wait_until_answering "$probe_url" "$node_url"
    exit 0
fi

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

check_mounted "$root" "${cephfs_mount_targets[@]}"
check_secretkey
cd "$installer"
load_images
echo "== prepare (umask 077)"
./prepare
lock_down
echo "== docker-compose up -d"
docker-compose up -d
wait_until_answering "$probe_url" "$node_url"
