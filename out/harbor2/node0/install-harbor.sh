#!/usr/bin/env bash
# The install step of a Harbor 2.15 node, run instead of the installer's
# ./install.sh, after apply.sh. It refuses to go on unless the node is safe:
#   - every CephFS directory of the node is mounted (else the registry writes
#     blobs to the local disk, which no other node sees);
#   - the secretkey, the token key and its certificate that apply.sh put under
#     <data_volume>/secret are there and unchanged (prepare keeps files that
#     exist; a missing one it makes anew, different on every node).
# Then it loads the offline installer's images, runs the stock prepare, pins
# the secrets prepare made at random (pin-secrets.sh), leaves every
# secret-bearing file readable by its owner only, removes the db/env prepare
# writes for a database container the cluster never runs, starts Harbor with docker
# compose, and waits until the node answers: start the next node only after that.
# Running it again changes no secret: prepare draws new ones, the pins put the cluster's back.
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
probe_url="${node_url}api/v2.0/ping"
if [ "$wait_only" = true ]; then
    wait_until_answering "$probe_url" "$node_url"
    exit 0
fi

record="$root/var/lib/harborgen/$cluster/$node.installed"
installer="$root$installer_dir"

# Exactly the files of the installer directory that hold a secret after prepare and the
# pins: passwords, Redis URLs, the pinned secrets, the registry's htpasswd line.
# tests/test_harbor2.py derives this list from runs of the real 2.15.2 prepare with
# planted secrets. Every other file prepare writes (app.conf, log/, nginx.conf,
# registryctl/config.yml) holds none and keeps the mode prepare gives it. (The nodes
# serve plain http and no metrics, so prepare writes no TLS key and no exporter/env.)
secret_bearing=(
    harbor.yml
    common/config/core/env
    common/config/jobservice/env
    common/config/jobservice/config.yml
    common/config/registryctl/env
    common/config/registry/config.yml
    common/config/registry/passwd
    common/config/trivy-adapter/env
)
# prepare renders db/env (POSTGRES_PASSWORD: the external database's password) for a
# database container this cluster never runs: it is removed after every prepare.
unused_with_a_secret=common/config/db/env

check_seeded_secrets() {
    local path file recorded
    [ -f "$record" ] || fail "no install record ($record): run apply.sh first"
    for path in "${seeded_files[@]}"; do
        file="$root$data_volume/$path"
        [ -s "$file" ] || fail "no $file: run apply.sh first (prepare would make one that no other node shares)"
        recorded=$(awk -v path="$file" '$3 == path { print $1 }' "$record")
        [ "$(sha256sum < "$file" | cut -d' ' -f1)" = "$recorded" ] \
            || fail "$file is not the one apply.sh installed: run apply.sh again"
    done
}

# The installer's prepare script moves a 1.x /data/secretkey (and defaultalias) into data_volume,
# over the cluster's: refuse rather than let a leftover of an old install replace it.
check_no_leftover_secretkey() {
    local leftover
    for leftover in /data/secretkey /data/defaultalias; do
        [ ! -e "$root$leftover" ] \
            || fail "$root$leftover exists: the installer's prepare would move it over the cluster's secretkey. Move it away (it belongs to an older Harbor)"
    done
}

run_prepare() {
    local options=()
    [ "$with_trivy" = true ] && options+=(--with-trivy)
    echo "== prepare ${options[*]}"
    ./prepare ${options[@]+"${options[@]}"}
}

lock_down() {
    local path
    rm -f "$unused_with_a_secret"
    for path in "${secret_bearing[@]}"; do
        [ ! -f "$path" ] || chmod 0600 "$path"
    done
    echo "secret-bearing files are readable by their owner only; $unused_with_a_secret removed"
}

compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}

check_mounted "$root" "${cephfs_mount_targets[@]}"
check_seeded_secrets
check_no_leftover_secretkey
cd "$installer"
load_images
run_prepare
"$here/pin-secrets.sh" common/config "$installer/harborgen/pins"
lock_down
echo "== docker compose up -d"
compose up -d
wait_until_answering "$probe_url" "$node_url"
