#!/usr/bin/env bash
# Installs this harborgen bundle on its machine. Safe to run again: a second run changes nothing.
# The same script in every bundle: what this node is comes from values.sh beside it.
#   usage: apply.sh [--secrets PACK] [--dry-run] [--root DIR] [--schema REGISTRY_SQL]
#   --secrets PACK  this node's secrets pack ('harborgen secrets pack TOPOLOGY --secrets FILE --node NODE --out PACK')
#   --dry-run       print every action, change nothing
#   --root DIR      act under DIR instead of / (for tests)
#   --schema FILE   database node: load Harbor's registry.sql, only into a database without tables
# Secret-bearing files come filled from the pack, checked by harborgen before it
# wrote them; this script only checks that the pack belongs to this bundle, and
# installs those files with mode 0600.
set -euo pipefail
export LC_ALL=C
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/values.sh
. "$here/values.sh"

pack=""
dry_run=false
root=""
schema=""
usage="usage: $0 [--secrets PACK] [--dry-run] [--root DIR] [--schema REGISTRY_SQL]"
while [ $# -gt 0 ]; do
    case "$1" in
        --secrets) pack=${2:?--secrets needs the secrets pack of this node}; shift ;;
        --dry-run) dry_run=true ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        --schema) schema=${2:?--schema needs a file}; shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$root" ]; then
    root=$(cd "$root" && pwd)
fi

fail() {
    echo "apply: $*" >&2
    exit 1
}

step() {
    echo "== $*"
}

has_role() {
    local role
    for role in "${roles[@]}"; do
        [ "$role" = "$1" ] && return 0
    done
    return 1
}

is_secret_file() {
    local path
    # ${a[@]+...}: bash before 4.4 (CentOS 7) calls an empty array unbound under set -u.
    for path in ${secret_files[@]+"${secret_files[@]}"}; do
        [ "$path" = "$1" ] && return 0
    done
    return 1
}

if [ -n "$schema" ] && ! has_role database; then
    fail "--schema is for the database node; $node is ${roles[*]}"
fi

# --- the bundle and its secrets pack ---------------------------------------------

step "checking the bundle against MANIFEST.sha256"
(cd "$here" && sha256sum --quiet --strict --check MANIFEST.sha256) \
    || fail "the bundle does not match its manifest: it was changed or is incomplete"

if [ -n "$pack" ]; then
    step "checking the secrets pack $pack"
    [ -f "$pack/BUNDLE.sha256" ] || fail "$pack is not a secrets pack (no BUNDLE.sha256)"
    mode=$(stat -L -c %a "$pack")
    (( (8#$mode & 8#077) == 0 )) \
        || fail "the secrets pack $pack has mode $mode (expected 0700: readable by its owner only; run 'chmod -R go= $pack')"
    (cd "$here" && sha256sum --quiet --strict --check "$pack/BUNDLE.sha256") 2>/dev/null \
        || fail "the secrets pack $pack was made for another bundle: make it again from the topology this bundle was rendered from (--node $node)"
fi

# source_of BUNDLE_PATH: sets SOURCE to the file to install: the pack's filled
# copy of a secret-bearing file, else the bundle's own (a materialized bundle is filled already).
source_of() {
    SOURCE="$here/$1"
    if [ -n "$pack" ] && [ -f "$pack/files/$1" ]; then
        SOURCE="$pack/files/$1"
    fi
    if grep -q 'HARBORGEN_SECRET\[' "$SOURCE"; then
        fail "$1 holds secret placeholders: give this node's secrets pack with --secrets PACK"
    fi
}

# Every secret-bearing file must have its filled copy before anything changes.
for path in ${secret_files[@]+"${secret_files[@]}"}; do
    source_of "$path"
done

# --- installing files ---------------------------------------------------------

# install_file BUNDLE_PATH DESTINATION: the (filled) bundle file at DESTINATION,
# mode 0600 when it holds a secret, else 0644; the file it replaces is kept
# once as DESTINATION.harborgen-orig.
install_file() {
    local destination=$2 mode=0644 temporary
    is_secret_file "$1" && mode=0600
    source_of "$1"
    if [ -f "$destination" ] && cmp -s "$SOURCE" "$destination" && [ "$(stat -c %a "$destination")" = "${mode#0}" ]; then
        echo "unchanged: $destination"
        return
    fi
    if [ "$dry_run" = true ]; then
        echo "would write $destination (mode $mode)"
        return
    fi
    mkdir -p "$(dirname "$destination")"
    if [ -f "$destination" ] && [ ! -e "$destination.harborgen-orig" ]; then
        cp -p "$destination" "$destination.harborgen-orig"
        echo "kept the replaced file as $destination.harborgen-orig"
    fi
    temporary=$(mktemp "$destination.harborgen.XXXXXX")
    cat "$SOURCE" > "$temporary"
    chmod "$mode" "$temporary"
    mv -f "$temporary" "$destination"
    echo "wrote $destination (mode $mode)"
}

# What install-harbor.sh compares the key on CephFS with: the digest of the key this bundle installed.
record_secretkey() {
    local record="$root/var/lib/harborgen/$cluster/secretkey.sha256" digest
    digest=$(sha256sum < "$SOURCE" | cut -d' ' -f1)
    if [ -f "$record" ] && [ "$(cat "$record")" = "$digest" ]; then
        echo "unchanged: $record"
    elif [ "$dry_run" = true ]; then
        echo "would write $record"
    else
        mkdir -p "$(dirname "$record")"
        printf '%s\n' "$digest" > "$record"
        echo "wrote $record"
    fi
}

install_harbor_node() {
    step "installing the cephx key of client.$cephfs_client"
    install_file "ceph/$cephfs_client.secret" "$root$cephfs_secret_file"
    if [ "$cephfs_mount_via" = fuse ]; then
        step "installing the Ceph client configuration for ceph-fuse"
        install_file ceph/client.conf "$root$cephfs_conf_file"
    fi

    step "making docker.service wait for the CephFS mount"
    install_file systemd/docker.service.d/harborgen-cephfs.conf "$root/etc/systemd/system/docker.service.d/harborgen-cephfs.conf"
    if [ -z "$root" ] && [ "$dry_run" = false ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi

    step "mounting CephFS"
    local mount_arguments=(--root "$root")
    [ "$dry_run" = true ] && mount_arguments+=(--dry-run)
    "$here/ceph/mount-cephfs.sh" "${mount_arguments[@]}" \
        || fail "CephFS is not mounted on $cephfs_harbor_root: Harbor must not start on this node (it would delete repositories it cannot see)"

    step "installing the shared secretkey on CephFS"
    source_of shared/secretkey
    if [ -f "$root$secretkey_path" ]; then
        cmp -s "$SOURCE" "$root$secretkey_path" \
            || fail "$root$secretkey_path holds a different secretkey: every node must share one. If Harbor already ran, put that key in the secrets file as $secretkey_name; if not, remove the file"
        echo "unchanged: $root$secretkey_path"
    elif [ "$dry_run" = true ]; then
        echo "would write $root$secretkey_path (mode 0600)"
    else
        install_file shared/secretkey "$root$secretkey_path"
    fi
    record_secretkey

    step "laying harbor/ over $installer_dir"
    local path
    for path in "${harbor_files[@]}"; do
        install_file "$path" "$root$installer_dir/${path#harbor/}"
    done
}

set_up_database() {
    step "creating database $database_name and its user (mysql client, standard connection settings)"
    source_of database/create-database.sql
    if [ "$dry_run" = true ]; then
        echo "would run database/create-database.sql through mysql"
    else
        mysql < "$SOURCE"
    fi
    if [ -n "$schema" ]; then
        step "loading Harbor's schema from $schema (only into an empty database)"
        if [ "$dry_run" = true ]; then
            echo "would run: database/load-schema.sh $schema"
        else
            "$here/database/load-schema.sh" "$schema"
        fi
    fi
}

start_load_balancer() {
    step "starting the load balancer"
    if [ "$dry_run" = true ]; then
        echo "would run: nginx/run-nginx.sh"
    else
        "$here/nginx/run-nginx.sh"
    fi
}

if has_role harbor; then install_harbor_node; fi
if has_role database; then set_up_database; fi
if has_role load-balancer; then start_load_balancer; fi
if has_role ceph-admin; then
    echo "ceph-admin: ceph/bootstrap-cephfs.sh creates the CephFS once; apply.sh does not run it."
fi

step "done"
if has_role harbor; then
    echo "Next, on this node: $here/install-harbor.sh   (instead of ./install.sh; one Harbor node at a time)"
fi
