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
# secret-bearing file readable by its owner only, starts Harbor with docker
# compose, and waits until the node answers: start the next node only after that.
# Running it again changes no secret: prepare draws new ones, the pins put the cluster's back.
#   usage: install-harbor.sh [--root DIR]
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
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift ;;
        *) echo "usage: $0 [--root DIR]" >&2; exit 2 ;;
    esac
    shift
done

record="$root/var/lib/harborgen/$cluster/$node.installed"
installer="$root$installer_dir"

# Files prepare writes that hold a secret: passwords, Redis URLs, the pinned secrets.
secret_bearing=(
    harbor.yml
    common/config/core/env
    common/config/jobservice/env
    common/config/jobservice/config.yml
    common/config/registryctl/env
    common/config/registry/config.yml
    common/config/registry/passwd
    common/config/db/env
    common/config/trivy-adapter/env
    common/config/exporter/env
)

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
    for path in "${secret_bearing[@]}"; do
        [ -f "$path" ] && chmod 0600 "$path"
    done
    local exposed
    exposed=$(find common/config -type f -perm /077 \( -name env -o -name passwd -o -name config.yml -o -name '*.key' \))
    [ -z "$exposed" ] || fail "still readable by others after prepare: $exposed"
    echo "secret-bearing files of common/config are readable by their owner only"
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
wait_until_answering "${node_url}api/v2.0/ping" "$node_url"
