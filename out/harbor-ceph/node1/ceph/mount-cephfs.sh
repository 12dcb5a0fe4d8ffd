#!/usr/bin/env bash
# Mounts the cluster's Harbor directory of CephFS on this node, persistently,
# and creates the directories the compose file uses. Safe to run again.
# Harbor 1.1.2 deletes database rows for repositories it cannot see on
# storage, so this script fails loudly whenever the mount is not there:
# never start Harbor after it failed.
#   usage: mount-cephfs.sh [--dry-run] [--root DIR] | --print-fstab-line
#   --root DIR  act on DIR/etc/fstab, DIR/etc/ceph and DIR/<mount point> (for tests)
# CEPHFS_MOUNT_TIMEOUT: seconds ceph-fuse waits for the cluster before giving up (default 30).
# The cephx key must be in the secret file values.sh names (apply.sh installs it, mode 0600).
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"

root=""
dry_run=false
print_line=false
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=true ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        --print-fstab-line) print_line=true ;;
        *) echo "usage: $0 [--dry-run] [--root DIR] | --print-fstab-line" >&2; exit 2 ;;
    esac
    shift
done
fstab="$root/etc/fstab"
target=$cephfs_harbor_root
mount_path="$root$target"
client=$cephfs_client
secret_file=$cephfs_secret_file

fail() {
    echo "mount-cephfs: $*" >&2
    exit 1
}

act() {
    if [ "$dry_run" = true ]; then
        echo "would run: $*"
    else
        "$@"
    fi
}

check_secret() {
    if [ "$dry_run" = true ] && [ ! -s "$root$secret_file" ]; then
        echo "would need the cephx key of client.$client in $root$secret_file"
        return
    fi
    [ -s "$root$secret_file" ] || fail "missing $root$secret_file: the cephx key of client.$client (apply.sh installs it)"
    if grep -q 'HARBORGEN_SECRET\[' "$root$secret_file"; then
        fail "$root$secret_file still holds a placeholder instead of the key of client.$client"
    fi
}

fstab_line() {
    if [ "$cephfs_mount_via" = fuse ]; then
        echo "none $target fuse.ceph ceph.id=$client,ceph.client_mountpoint=/$cephfs_harbor_dir,ceph.keyfile=$secret_file,ceph.conf=$cephfs_conf_file,$cephfs_mount_options 0 0"
    else
        echo "$cephfs_mount_source $target ceph name=$client,secretfile=$secret_file,$cephfs_mount_options 0 0"
    fi
}

ensure_fstab_line() {
    local line
    line=$(fstab_line)
    if [ -f "$fstab" ] && grep -qxF "$line" "$fstab"; then
        echo "fstab already has: $line"
        return
    fi
    if [ "$dry_run" = true ]; then
        echo "would write to $fstab: $line"
        return
    fi
    # Replace any older entry for the same mount point, keep everything else.
    mkdir -p "$(dirname "$fstab")"
    touch "$fstab"
    {
        awk -v target="$target" '$2 != target' "$fstab"
        printf '%s\n' "$line"
    } > "$fstab.harborgen"
    chmod 0644 "$fstab.harborgen"
    mv "$fstab.harborgen" "$fstab"
    echo "fstab: $line"
}

mount_now() {
    if [ "$cephfs_mount_via" = fuse ]; then
        local context=()
        [ -z "$cephfs_fuse_options" ] || context=(-o "$cephfs_fuse_options")
        # Fail soon when no monitor answers, instead of after ceph-fuse's default 300 s.
        act ceph-fuse --id "$client" --keyfile "$root$secret_file" -c "$root$cephfs_conf_file" \
            --client_mount_timeout "${CEPHFS_MOUNT_TIMEOUT:-30}" -r "/$cephfs_harbor_dir" ${context[@]+"${context[@]}"} "$mount_path"
    else
        act mount -t ceph "$cephfs_mount_source" "$mount_path" -o "name=$client,secretfile=$root$secret_file,$cephfs_mount_options"
    fi
}

ensure_mounted() {
    if mountpoint -q "$mount_path"; then
        echo "already mounted: $mount_path"
        return
    fi
    act mkdir -p "$mount_path"
    mount_now
    if [ "$dry_run" = true ]; then
        echo "would mount $cephfs_fs_name:/$cephfs_harbor_dir as client.$client on $mount_path"
        return
    fi
    mountpoint -q "$mount_path" || fail "$mount_path is not a mount point after mounting: refusing to go on"
    echo "mounted $cephfs_fs_name:/$cephfs_harbor_dir as client.$client on $mount_path"
}

if [ "$print_line" = true ]; then
    fstab_line  # for apply.sh --check: the one line this script keeps in fstab
    exit 0
fi
check_secret
ensure_fstab_line
ensure_mounted

directories=()
for directory in "${cephfs_directories[@]}"; do
    directories+=("$root$directory")
done
act mkdir -p "${directories[@]}"
if [ "$dry_run" = true ]; then
    echo "dry run: nothing was mounted or created under $mount_path"
else
    echo "CephFS ready for Harbor under $mount_path"
fi
