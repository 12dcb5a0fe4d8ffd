#!/usr/bin/env bash
# Creates the CephFS of the Harbor cluster, once, from the ceph-admin node:
# MDS daemons, both pools, the file system, the Harbor directory in it and
# the cephx client the Harbor nodes mount with. Safe to run again: what
# exists is reported and left as it is.
#   --skip-mds   do not run 'ceph-deploy mds create' (MDS managed another way)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"

fs_name=$cephfs_fs_name
harbor_dir=$cephfs_harbor_dir
client=$cephfs_client

skip_mds=false
for argument in "$@"; do
    case "$argument" in
        --skip-mds) skip_mds=true ;;
        *) echo "usage: $0 [--skip-mds]" >&2; exit 2 ;;
    esac
done

if [ "$skip_mds" = false ] && [ -n "${cephfs_mds_hosts[*]+set}" ]; then
    command -v ceph-deploy >/dev/null \
        || { echo "bootstrap-cephfs: ceph-deploy not found: create the MDS daemons another way and run again with --skip-mds" >&2; exit 1; }
    ceph-deploy mds create "${cephfs_mds_hosts[@]}"
fi

ensure_pool() {
    local pool=$1 pg=$2
    if ceph osd pool ls | grep -qxF "$pool"; then
        echo "pool $pool exists: left as it is"
    else
        ceph osd pool create "$pool" "$pg"
    fi
}
ensure_pool "$cephfs_metadata_pool" "$cephfs_metadata_pg"
ensure_pool "$cephfs_data_pool" "$cephfs_data_pg"

if ceph fs ls | grep -qF "name: $fs_name,"; then
    echo "file system $fs_name exists: left as it is"
else
    ceph fs new "$fs_name" "$cephfs_metadata_pool" "$cephfs_data_pool"
fi

# The Harbor directory must exist before a client limited to it can mount it,
# and only an active MDS can serve the mount that creates it.
for _ in $(seq 1 120); do
    ceph mds stat | grep -q 'up:active' && break
    sleep 1
done
ceph mds stat | grep -q 'up:active' || { echo "bootstrap-cephfs: no MDS became active for $fs_name" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'umount "$scratch" 2>/dev/null || true; rmdir "$scratch"' EXIT
ceph-fuse --id admin --client_mount_timeout 30 -r / "$scratch" >/dev/null
if [ -d "$scratch/$harbor_dir" ]; then
    echo "directory /$harbor_dir exists on $fs_name: left as it is"
else
    mkdir -p "$scratch/$harbor_dir"
    echo "created directory /$harbor_dir on $fs_name"
fi
# Harbor 2.15 nodes mount these directories of the Harbor directory, not the directory itself.
for subdirectory in ${cephfs_subdirectories[@]+"${cephfs_subdirectories[@]}"}; do
    if [ ! -d "$scratch/$harbor_dir/$subdirectory" ]; then
        mkdir -p "$scratch/$harbor_dir/$subdirectory"
        echo "created directory /$harbor_dir/$subdirectory on $fs_name"
    fi
done

# The capabilities of the dedicated client: the Harbor directory and the data pool, nothing more.
wanted_caps=("mds" "allow rw path=/$harbor_dir" "mon" "allow r" "osd" "allow rw pool=$cephfs_data_pool")

# The caps of an existing client as 'TYPE CAPS' lines, sorted; never its key.
current_caps() {
    ceph auth get "client.$client" 2>/dev/null \
        | sed -n 's/^[[:space:]]*caps \([a-z]*\) = "\(.*\)"[[:space:]]*$/\1 \2/p' | sort
}

indent() {
    local line
    while IFS= read -r line; do
        printf '    %s\n' "$line"
    done <<<"$1"
}

if [ "$client" = admin ]; then
    echo "WARNING: the Harbor nodes mount as client.admin, which can do anything on the Ceph cluster." >&2
    echo "         Prefer a dedicated client: set cephfs.client in the topology and render again." >&2
elif ceph auth get "client.$client" >/dev/null 2>&1; then
    wanted=$(printf '%s %s\n' "${wanted_caps[@]}" | sort)
    current=$(current_caps)
    if [ "$current" != "$wanted" ]; then
        {
            echo "bootstrap-cephfs: client.$client exists with other capabilities than the cluster needs; nothing was changed."
            echo "It has:"
            indent "$current"
            echo "It should have:"
            indent "$wanted"
            printf 'To give it exactly those: ceph auth caps client.%s' "$client"
            printf " %s '%s'" "${wanted_caps[@]}"
            echo
        } >&2
        exit 1
    fi
    echo "client.$client exists with the capabilities it needs: left as it is"
else
    ceph auth get-or-create "client.$client" "${wanted_caps[@]}" >/dev/null
    echo "created client.$client, limited to /$harbor_dir"
fi

echo
echo "Key of client.$client (ceph auth get-key client.$client):"
ceph auth get-key "client.$client"
echo
echo "Put it in the secrets file as: $cephfs_key_name: <key>"
