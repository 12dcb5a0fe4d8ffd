#!/usr/bin/env bash
# Mounts the cluster's directories of CephFS on this node, persistently (one
# fstab line each), and creates the directories the compose file uses. Safe
# to run again. Harbor 1.1.2 mounts its whole Harbor directory; Harbor 2.15
# mounts <data_volume>/registry (and job_logs when shared) only.
# Harbor deletes or loses what it cannot see on storage, so this script
# fails loudly whenever a mount is not there: never start Harbor after it failed.
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
client=$cephfs_client
secret_file=$cephfs_secret_file

fail() {
    echo "mount-cephfs: $*" >&2
    exit 1
}

# note_change TEXT: what this run changed on the machine, for apply.sh's last line (HARBORGEN_CHANGES
# names the file it collects them in; unset when this script runs alone).
note_change() {
    [ -z "${HARBORGEN_CHANGES:-}" ] || printf '%s\n' "$1" >> "$HARBORGEN_CHANGES"
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

# fstab_line SOURCE TARGET: the line for the CephFS directory SOURCE mounted on TARGET.
fstab_line() {
    if [ "$cephfs_mount_via" = fuse ]; then
        echo "none $2 fuse.ceph ceph.id=$client,ceph.client_mountpoint=$1,ceph.keyfile=$secret_file,ceph.conf=$cephfs_conf_file,$cephfs_mount_options 0 0"
    else
        echo "$cephfs_monitors:$1 $2 ceph name=$client,secretfile=$secret_file,$cephfs_mount_options 0 0"
    fi
}

ensure_fstab_line() {
    local line target=$2 temporary
    line=$(fstab_line "$1" "$2")
    # A FIFO or a directory there would hang or swallow the write: refuse it by name.
    if [ -e "$fstab" ] && { [ ! -f "$fstab" ] || [ -L "$fstab" ]; }; then
        fail "$fstab is not a regular file (a link, FIFO or directory): fix it by hand before mounting"
    fi
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
    temporary=$(mktemp "$fstab.harborgen.XXXXXX")
    {
        awk -v target="$target" '$2 != target' "$fstab"
        printf '%s\n' "$line"
    } > "$temporary"
    chmod 0644 "$temporary"
    mv -fT "$temporary" "$fstab"
    note_change "fstab: $line"
    echo "fstab: $line"
}

# mount_now SOURCE MOUNT_PATH
mount_now() {
    if [ "$cephfs_mount_via" = fuse ]; then
        local context=()
        [ -z "$cephfs_fuse_options" ] || context=(-o "$cephfs_fuse_options")
        # Fail soon when no monitor answers, instead of after ceph-fuse's default 300 s.
        act ceph-fuse --id "$client" --keyfile "$root$secret_file" -c "$root$cephfs_conf_file" \
            --client_mount_timeout "${CEPHFS_MOUNT_TIMEOUT:-30}" -r "$1" ${context[@]+"${context[@]}"} "$2"
    else
        act mount -t ceph "$cephfs_monitors:$1" "$2" -o "name=$client,secretfile=$root$secret_file,$cephfs_mount_options"
    fi
}

# ensure_mounted SOURCE TARGET
ensure_mounted() {
    local mount_path="$root$2"
    if mountpoint -q "$mount_path"; then
        echo "already mounted: $mount_path"
        return
    fi
    act mkdir -p "$mount_path"
    mount_now "$1" "$mount_path"
    if [ "$dry_run" = true ]; then
        echo "would mount $cephfs_fs_name:$1 as client.$client on $mount_path"
        return
    fi
    mountpoint -q "$mount_path" || fail "$mount_path is not a mount point after mounting: refusing to go on"
    note_change "mounted $mount_path"
    echo "mounted $cephfs_fs_name:$1 as client.$client on $mount_path"
}

if [ "$print_line" = true ]; then
    # for apply.sh --check: the lines this script keeps in fstab, one per mount
    for index in "${!cephfs_mount_targets[@]}"; do
        fstab_line "${cephfs_mount_sources[$index]}" "${cephfs_mount_targets[$index]}"
    done
    exit 0
fi
check_secret
for index in "${!cephfs_mount_targets[@]}"; do
    ensure_fstab_line "${cephfs_mount_sources[$index]}" "${cephfs_mount_targets[$index]}"
    ensure_mounted "${cephfs_mount_sources[$index]}" "${cephfs_mount_targets[$index]}"
done

directories=()
for directory in ${cephfs_directories[@]+"${cephfs_directories[@]}"}; do
    directories+=("$root$directory")
done
[ ${#directories[@]} -eq 0 ] || act mkdir -p "${directories[@]}"
if [ "$dry_run" = true ]; then
    echo "dry run: nothing was mounted or created under ${cephfs_mount_targets[*]}"
else
    echo "CephFS ready for Harbor under ${cephfs_mount_targets[*]}"
fi
