#!/usr/bin/env bash
# Installs this harborgen bundle on its machine. Safe to run again: a second run changes nothing.
# The same script in every bundle: what this node is comes from values.sh beside it.
#   usage: apply.sh [--secrets PACK] [--dry-run | --check [--format text|json]] [--root DIR] [--schema REGISTRY_SQL]
#   --secrets PACK  this node's secrets pack ('harborgen secrets pack TOPOLOGY --secrets FILE --node NODE --out PACK')
#   --dry-run       print every action, change nothing
#   --check         change nothing; exit 1 when what is installed is not what applying this bundle
#                   gives (a file missing, changed or with another mode, the fstab line, the mount),
#                   or when the node was applied from another bundle. Secret-bearing files are
#                   compared by digest (with the pack, or with the install record), never shown.
#   --format json   with --check: one JSON document for 'harborgen audit' (schema/check-report.schema.json)
#   --root DIR      act under DIR instead of / (for tests)
#   --schema FILE   database node of Harbor 1.1.2: load Harbor's registry.sql, only into a database
#                   without tables (Harbor 2.15's core migrates its schema itself)
# Secret-bearing files come filled from the pack, checked by harborgen before it
# wrote them; this script only checks that the pack belongs to this bundle, and
# installs those files with mode 0600.
set -euo pipefail
export LC_ALL=C
umask 077

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

pack=""
dry_run=false
checking=false
output=text
root=""
schema=""
usage="usage: $0 [--secrets PACK] [--dry-run | --check [--format text|json]] [--root DIR] [--schema REGISTRY_SQL]"
while [ $# -gt 0 ]; do
    case "$1" in
        --secrets) pack=${2:?--secrets needs the secrets pack of this node}; shift ;;
        --dry-run) dry_run=true ;;
        --check) checking=true ;;
        --format) output=${2:?--format needs text or json}; shift ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        --schema) schema=${2:?--schema needs a file}; shift ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$root" ]; then
    root=$(cd "$root" && pwd)
fi
case "$output" in text | json) ;; *) echo "$usage" >&2; exit 2 ;; esac
if [ "$checking" = true ]; then
    dry_run=true  # a check changes nothing: every step that would act only reports
fi

fail() {
    echo "apply: $*" >&2
    exit 1
}

step() {
    [ "$checking" = true ] || echo "== $*"
}

# Check first, then read: values.sh is code, sourced only once the bundle matches a
# manifest that names it.
step "checking the bundle against MANIFEST.sha256"
grep -qE '^[0-9a-f]{64}  values\.sh$' "$here/MANIFEST.sha256" 2>/dev/null \
    || fail "the bundle $here has no manifest that covers values.sh: it is incomplete or not a harborgen bundle"
(cd "$here" && sha256sum --quiet --strict --check MANIFEST.sha256) \
    || fail "the bundle does not match its manifest: it was changed or is incomplete"
bundle_digest=$(sha256sum < "$here/MANIFEST.sha256" | cut -d' ' -f1)
# shellcheck source=SCRIPTDIR/values.sh
. "$here/values.sh"
record="$root/var/lib/harborgen/$cluster/$node.installed"

# --- what --check finds ---------------------------------------------------------------

drift_paths=()
drift_kinds=()
mounted=null

drift() {
    drift_paths+=("$1")
    drift_kinds+=("$2")
    [ "$output" = json ] || echo "drift: $1: $2"
}

# JSON by hand: the machines are promised bash, not jq or a Python; the tests parse
# this report with a real JSON parser, control characters and quotes included.
json_string() {
    local text=${1//\\/\\\\} escaped="" char index
    text=${text//\"/\\\"}
    if [[ $text == *[[:cntrl:]]* ]]; then  # JSON allows no raw control character in a string
        for (( index = 0; index < ${#text}; index++ )); do
            char=${text:index:1}
            if [[ $char == [[:cntrl:]] ]]; then
                escaped+=$(printf '\\u%04x' "'$char")
            else
                escaped+=$char
            fi
        done
        text=$escaped
    fi
    printf '"%s"' "$text"
}

report_check() {
    local index applied=null
    [ -f "$record" ] && applied=$(json_string "$(sed -n 's/^bundle //p' "$record")")
    if [ "$output" = json ]; then
        printf '{"cluster": %s, "node": %s, "bundle": %s, "applied": %s, "mounted": %s, "drift": [' \
            "$(json_string "$cluster")" "$(json_string "$node")" "$(json_string "$bundle_digest")" "$applied" "$mounted"
        for index in ${drift_paths[@]+"${!drift_paths[@]}"}; do
            [ "$index" = 0 ] || printf ', '
            printf '{"path": %s, "kind": %s}' "$(json_string "${drift_paths[$index]}")" "$(json_string "${drift_kinds[$index]}")"
        done
        printf ']}\n'
    fi
    [ -z "${drift_paths[*]+set}" ]
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

# --- may root write here? -----------------------------------------------------------
# Root never writes through a link, nor into a directory another user can change: a user who
# owns any directory on the way to a target could swap a component for a link and send
# root's write (a private key, a record) anywhere. So every existing component below the
# root, from the top down, must be a real directory owned by root and writable by nobody
# else; the target itself, a regular file or nothing. The RUNBOOK says what to do when
# installer_dir lies in a user's home.

# refuse_unsafe_target DESTINATION [SERVICE_USER]
# SERVICE_USER may own the directory that holds DESTINATION (Debian's /etc/redis is redis's,
# mode 2770): its owner cannot send root's write elsewhere, since the file is made with mktemp
# and renamed into place, which never follows a link. Every directory above stays root's.
refuse_unsafe_target() {
    local destination=$1 service_user=${2:-} path=$root part owner mode parts index last
    IFS=/ read -r -a parts <<< "${destination#"$root"/}"
    last=$(( ${#parts[@]} - 1 ))
    for index in "${!parts[@]}"; do
        part=${parts[$index]}
        [ -n "$part" ] || continue
        path="$path/$part"
        if [ -L "$path" ]; then
            fail "will not write $destination: $path is a symbolic link (owner $(stat -c %U "$path")), and root never writes through one: replace it with the real directory or file"
        fi
        [ -e "$path" ] || return 0  # mkdir -p makes the rest, as root
        if [ "$index" = "$last" ]; then
            [ -f "$path" ] || fail "will not write $destination: it is $(kind_of "$path") where a regular file belongs: move it away"
            return 0
        fi
        [ -d "$path" ] || fail "will not write $destination: $path is $(kind_of "$path"), not a directory"
        owner=$(stat -c %u "$path")
        mode=$(stat -c %a "$path")
        if [ -n "$service_user" ] && [ "$index" = $(( last - 1 )) ] && [ "$(stat -c %U "$path")" = "$service_user" ]; then
            continue
        fi
        if [ "$owner" != 0 ] || (( (8#$mode & 8#022) != 0 )); then
            fail "will not write $destination: $path is owned by $(stat -c %U "$path") with mode $mode, so another user can change what lies under it: make it root's ('chown root: $path; chmod go-w $path') or choose a directory only root can change (RUNBOOK.md: where installer_dir may live)"
        fi
    done
}

# not_a_file PATH: something is at PATH and it is not a regular file (a link, even a dangling one, counts).
not_a_file() {
    { [ -e "$1" ] || [ -L "$1" ]; } && { [ -L "$1" ] || [ ! -f "$1" ]; }
}

kind_of() {
    if [ -L "$1" ]; then echo "a symbolic link"
    elif [ -d "$1" ]; then echo "a directory"
    elif [ -p "$1" ]; then echo "a FIFO"
    elif [ -S "$1" ]; then echo "a socket"
    elif [ -b "$1" ] || [ -c "$1" ]; then echo "a device"
    else echo "not a regular file"; fi
}

# replace_file TEMPORARY DESTINATION: TEMPORARY (beside DESTINATION) takes its place, never into a directory there.
replace_file() {
    mv -fT "$1" "$2"
    note_change "wrote $2"
}

# What this run changed, in a file the scripts it calls add to as well: its last line says
# "changed" or "unchanged" from it, which is what Ansible reports (ansible/site.yml).
if [ "$dry_run" = false ]; then
    HARBORGEN_CHANGES=$(mktemp)
    export HARBORGEN_CHANGES
    trap 'rm -f "$HARBORGEN_CHANGES"' EXIT
else
    unset HARBORGEN_CHANGES
fi
# note_change TEXT: what this run changed on the machine, for apply.sh's last line (HARBORGEN_CHANGES
# names the file it collects them in; unset when this script runs alone).
note_change() {
    [ -z "${HARBORGEN_CHANGES:-}" ] || printf '%s\n' "$1" >> "$HARBORGEN_CHANGES"
}

# report_changes: the last line of a run, one of two fixed forms.
report_changes() {
    local count
    count=$(wc -l < "$HARBORGEN_CHANGES")
    if [ "$count" -eq 0 ]; then
        echo "harborgen-apply: unchanged"
    else
        echo "harborgen-apply: changed ($count: $(paste -sd ';' "$HARBORGEN_CHANGES" | sed 's/;/; /g'))"
    fi
}

if [ -n "$schema" ] && ! has_role database; then
    fail "--schema is for the database node; $node is ${roles[*]}"
fi
if [ -n "$schema" ] && [ "${database_engine:?values.sh of a database node names it}" = postgresql ]; then
    fail "--schema loads Harbor 1.1.2's registry.sql into MySQL; this database is $database_engine (Harbor 2.15's core migrates its schema itself)"
fi

# --- the bundle and its secrets pack ---------------------------------------------

# --- the install record: what the last apply installed, after filling -------------------

# The record is read, compared and replaced: a FIFO or a directory there would hang or
# swallow that.
if not_a_file "$record"; then
    fail "the install record $record is $(kind_of "$record"): move it away, then apply again"
fi

declare -A installed=()
if [ -f "$record" ]; then
    while read -r digest file_mode path; do
        [ "$digest" = bundle ] || installed[$path]="$digest $file_mode"
    done < "$record"
fi
if [ "$checking" = true ]; then
    if [ ! -f "$record" ]; then
        drift "$record" "missing: this node was never applied"
    elif [ "$(sed -n 's/^bundle //p' "$record")" != "$bundle_digest" ]; then
        drift "$record" "behind: this node was applied from bundle $(sed -n 's/^bundle //p' "$record"), Git now says $bundle_digest"
    fi
fi
declare -A recorded=()
written=()  # the bundle paths this run wrote (the hooks reload what they changed)

# check_pack: the pack is this node's, of this render, and holds nothing but the filled copies
# of this bundle's secret-bearing files: no link, no device, no other path, no other bundle's
# digest. Anything else would let whoever wrote the pack replace a file root installs.
check_pack() {
    local entry relative expected named
    [ ! -L "${pack%/}" ] || fail "the secrets pack $pack is a symbolic link: give the pack directory itself"
    [ -d "$pack" ] || fail "$pack is not a secrets pack (not a directory)"
    pack=$(cd "$pack" && pwd)
    mode=$(stat -c %a "$pack")
    (( (8#$mode & 8#077) == 0 )) \
        || fail "the secrets pack $pack has mode $mode (expected 0700: readable by its owner only; run 'chmod -R go= $pack')"
    while IFS= read -r -d '' entry; do
        relative=${entry#"$pack"/}
        if [ -L "$entry" ] || { [ ! -f "$entry" ] && [ ! -d "$entry" ]; }; then
            fail "the secrets pack holds $entry, which is a link or not a regular file: a pack holds only files; make it again"
        fi
        [ -f "$entry" ] || continue
        [ "$relative" = BUNDLE.sha256 ] && continue
        if [ "${relative#files/}" != "$relative" ] && is_secret_file "${relative#files/}"; then
            continue
        fi
        fail "the secrets pack holds $relative, which is not a secret-bearing file of this bundle: a pack fills only those; make it again"
    done < <(find "$pack" -mindepth 1 -print0)
    [ -f "$pack/BUNDLE.sha256" ] || fail "$pack is not a secrets pack (no BUNDLE.sha256)"
    for entry in ${secret_files[@]+"${secret_files[@]}"}; do
        [ -f "$pack/files/$entry" ] || fail "the secrets pack $pack lacks files/$entry, a secret-bearing file of this bundle: make it again"
    done
    expected="$bundle_digest  $cluster/$node/MANIFEST.sha256"
    named=$(head -c 1024 "$pack/BUNDLE.sha256")
    [ "$named" != "$expected" ] || return 0
    if [[ $named =~ ^[0-9a-f]{64}\ \ ([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)/MANIFEST\.sha256$ ]] \
        && [ "${BASH_REMATCH[1]}/${BASH_REMATCH[2]}" != "$cluster/$node" ]; then
        fail "the secrets pack $pack is the pack of node ${BASH_REMATCH[2]} of cluster ${BASH_REMATCH[1]}, not of $node of $cluster: give this node's pack (--node $node)"
    fi
    fail "the secrets pack $pack was made for another bundle: make it again from the topology this bundle was rendered from (--node $node)"
}

if [ -n "$pack" ]; then
    step "checking the secrets pack $pack"
    check_pack
fi

# source_of BUNDLE_PATH: sets SOURCE to the file to install: the pack's filled
# copy of a secret-bearing file, else the bundle's own (a materialized bundle is filled already).
# A check without the pack has no filled copy: SOURCE is then empty, and the install record speaks.
source_of() {
    SOURCE="$here/$1"
    if [ -n "$pack" ] && is_secret_file "$1" && [ -f "$pack/files/$1" ]; then
        SOURCE="$pack/files/$1"
    fi
    if grep -q 'HARBORGEN_SECRET\[' "$SOURCE"; then
        [ "$checking" = true ] && { SOURCE=""; return; }
        fail "$1 holds secret placeholders: give this node's secrets pack with --secrets PACK"
    fi
}

# Every secret-bearing file must have its filled copy before anything changes.
for path in ${secret_files[@]+"${secret_files[@]}"}; do
    source_of "$path"
done

# Only now, with the bundle and the pack checked, does anything change: one apply at a time.
if [ "$dry_run" = false ]; then
    refuse_unsafe_target "$record"
    mkdir -p "$(dirname "$record")"
    # fd 9 holds the lock; every program apply.sh starts gets it closed (9>&-): a daemon it
    # leaves running (ceph-fuse) would otherwise hold the lock for ever.
    exec 9>> "$(dirname "$record")/.apply.lock"
    flock -n 9 || fail "another apply.sh runs on this machine (it holds $(dirname "$record")/.apply.lock): wait for it to end"
fi

# --- installing files ---------------------------------------------------------

# install_file BUNDLE_PATH DESTINATION MODE [SERVICE_USER]: the (filled) bundle file at DESTINATION
# with MODE (INSTALL says which: 0600 when it holds a secret); the file it replaces is kept
# once as DESTINATION.harborgen-orig (never a link's target: cp -P).
# SERVICE_USER reads the file: it owns it (see also refuse_unsafe_target).
install_file() {
    local destination=$2 mode=$3 service_user=${4:-} temporary
    source_of "$1"
    if [ "$checking" = true ]; then
        check_file "$destination" "$mode"
        return
    fi
    refuse_unsafe_target "$destination" "$service_user"
    recorded[$destination]="$(sha256sum < "$SOURCE" | cut -d' ' -f1) $mode"
    if [ -f "$destination" ] && cmp -s "$SOURCE" "$destination" && [ "$(stat -c %a "$destination")" = "${mode#0}" ]; then
        echo "unchanged: $destination"
        give_to "$service_user" "$destination"
        return
    fi
    if [ "$dry_run" = true ]; then
        echo "would write $destination (mode $mode)"
        return
    fi
    mkdir -p "$(dirname "$destination")"
    keep_the_original "$destination"
    temporary=$(mktemp "$destination.harborgen.XXXXXX")
    cat "$SOURCE" > "$temporary"
    chmod "$mode" "$temporary"
    replace_file "$temporary" "$destination"
    echo "wrote $destination (mode $mode)"
    written+=("$1")
    give_to "$service_user" "$destination"
}

# keep_the_original DESTINATION: the file harborgen replaces first, once, as DESTINATION.harborgen-orig.
keep_the_original() {
    if [ -f "$1" ] && [ ! -e "$1.harborgen-orig" ] && [ ! -L "$1.harborgen-orig" ]; then
        cp -pP "$1" "$1.harborgen-orig"
        echo "kept the replaced file as $1.harborgen-orig"
    fi
}

# give_to SERVICE_USER FILE: a service that reads its file as its own user (redis-server) owns it.
# -h: that user owns the directory, and chown must not follow a link it could put there meanwhile.
give_to() {
    [ -n "$1" ] && [ "$dry_run" = false ] && [ -z "$root" ] && id "$1" >/dev/null 2>&1 || return 0
    chown -h "$1": "$2"
}

# The install list, INSTALL: one file per line, tab-separated (when, mode, bundle path, destination,
# service user), in the order apply.sh installs them; '#' lines are comments.
# install_listed WHEN [HEADING]: every file of INSTALL for WHEN (before-mount, shared, after-mount),
# under HEADING when there is at least one.
install_listed() {
    local heading=${2:-} when mode path destination service_user
    while IFS=$'\t' read -r -u 3 when mode path destination service_user; do
        [ "$when" = "$1" ] || continue
        [ -z "$heading" ] || step "$heading"
        heading=""
        if [ "$when" = shared ]; then
            install_shared "$path" "$root$destination" "$mode"
        else
            install_file "$path" "$root$destination" "$mode" "$service_user"
        fi
    done 3< "$here/INSTALL"
}

# install_shared BUNDLE_PATH DESTINATION MODE: a file on CephFS every node must hold the same. The
# first node writes it; every other refuses a different one, since Harbor may already have used it
# (its secretkey encrypts what it stores).
install_shared() {
    local path=$1 target=$2 mode=$3
    step "installing the shared $(basename "$path") on CephFS"
    source_of "$path"
    if [ "$checking" = true ]; then
        check_file "$target" "$mode"
        return
    elif [ -f "$target" ]; then
        cmp -s "$SOURCE" "$target" \
            || fail "$target holds a different $(basename "$path"): every node must share one. If Harbor already ran, put that key in the secrets file as $secretkey_name; if not, remove the file"
        echo "unchanged: $target"
    elif [ "$dry_run" = true ]; then
        echo "would write $target (mode $mode)"
    else
        install_file "$path" "$target" "$mode"
    fi
    recorded[$target]="$(sha256sum < "$SOURCE" | cut -d' ' -f1) $mode"
    record_digest "$(basename "$path")"
}

# record_digest NAME: what install-harbor.sh compares the shared file on CephFS with: the digest of
# the one this bundle installed (NAME.sha256).
record_digest() {
    local record="$root/var/lib/harborgen/$cluster/$1.sha256" digest
    [ "$dry_run" = true ] || refuse_unsafe_target "$record"
    digest=$(sha256sum < "$SOURCE" | cut -d' ' -f1)
    if [ -f "$record" ] && [ "$(cat "$record")" = "$digest" ]; then
        echo "unchanged: $record"
    elif [ "$dry_run" = true ]; then
        echo "would write $record"
    else
        local temporary
        mkdir -p "$(dirname "$record")"
        temporary=$(mktemp "$record.XXXXXX")
        printf '%s\n' "$digest" > "$temporary"
        replace_file "$temporary" "$record"
        echo "wrote $record"
    fi
}

# check_file DESTINATION MODE: drift of an installed file against SOURCE, or against the
# digest the install record holds when there is no filled copy to compare with.
check_file() {
    local destination=$1 mode=$2 expected actual
    if [ ! -f "$destination" ] || [ -L "$destination" ]; then
        drift "$destination" missing
        return
    fi
    if [ -n "$SOURCE" ]; then
        expected=$(sha256sum < "$SOURCE" | cut -d' ' -f1)
    else
        expected=${installed[$destination]:-}
        expected=${expected%% *}
    fi
    actual=$(sha256sum < "$destination" | cut -d' ' -f1)
    if [ -z "$expected" ]; then
        drift "$destination" "not checkable: give the secrets pack (no install record of it)"
    elif [ "$actual" != "$expected" ]; then
        drift "$destination" "content changed"
    fi
    local current
    current=$(stat -c %a "$destination")
    [ "$current" = "${mode#0}" ] || drift "$destination" "mode changed: 0$current, expected $mode"
}

write_record() {
    [ "$dry_run" = false ] || return 0
    local path temporary
    mkdir -p "$(dirname "$record")"
    temporary=$(mktemp "$record.XXXXXX")
    {
        echo "bundle $bundle_digest"
        for path in ${recorded[@]+"${!recorded[@]}"}; do
            echo "${recorded[$path]%% *} ${recorded[$path]#* } $path"
        done | sort -k3
    } > "$temporary"
    if cmp -s "$temporary" "$record"; then
        rm -f "$temporary"
        echo "unchanged: $record"
        return
    fi
    replace_file "$temporary" "$record"
    echo "recorded what was installed in $record"
}

# The node's Harbor waits for CephFS: docker.service learns of its drop-in, then the mount.
mount_for_harbor() {
    if [ -z "$root" ] && [ "$dry_run" = false ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload 9>&-
    fi
    step "mounting CephFS"
    if [ "$checking" = true ]; then
        check_mount
    else
        local mount_arguments=(--root "$root")
        [ "$dry_run" = true ] && mount_arguments+=(--dry-run)
        "$here/ceph/mount-cephfs.sh" "${mount_arguments[@]}" 9>&- \
            || fail "CephFS is not mounted on ${cephfs_mount_targets[*]}: Harbor must not start on this node (it would lose what it cannot see)"
    fi
}

# check_mount: the fstab lines mount-cephfs.sh writes, and the mounts themselves.
check_mount() {
    local line target
    if not_a_file "$root/etc/fstab"; then
        drift "$root/etc/fstab" "not a regular file (a link, FIFO or directory): not read"
    else
        while IFS= read -r line; do
            grep -qxF "$line" "$root/etc/fstab" 2>/dev/null || drift "$root/etc/fstab" "fstab line missing: $line"
        done < <("$here/ceph/mount-cephfs.sh" --print-fstab-line)
    fi
    mounted=true
    for target in "${cephfs_mount_targets[@]}"; do
        if ! mountpoint -q "$root$target"; then
            mounted=false
            drift "$root$target" "not mounted"
        fi
    done
}

set_up_database() {
    if [ "$checking" = true ]; then
        # The database's content is the database's: SQL is not a file to compare. A Galera member's
        # state is this machine's, though: one that is not Synced takes no writes.
        case ${database_engine:?values.sh of a database node names it} in
            galera) is_a_synced_member || drift mariadb "this Galera member is not Synced in the primary component: it takes no writes and cannot hold $database_host" ;;
            patroni) systemctl is-active --quiet patroni || drift patroni "Patroni does not run: this member neither leads nor replicates" ;;
        esac
        return 0
    fi
    case ${database_engine:?values.sh of a database node names it} in
        postgresql) set_up_postgresql ;;
        patroni) set_up_patroni ;;
        mysql) set_up_mysql ;;
        galera) set_up_galera ;;
        *) fail "values.sh names database engine $database_engine, which this apply.sh does not know" ;;
    esac
}

set_up_postgresql() {
    source_of database/create-database.sql
    step "creating role $database_user and database $database_name, and their pg_hba.conf lines (PostgreSQL)"
    local arguments=()
    [ "$dry_run" = true ] && arguments+=(--dry-run)
    "$here/database/set-up-postgresql.sh" ${arguments[@]+"${arguments[@]}"} "$SOURCE" "$here/database/pg_hba.conf" 9>&-
}

set_up_mysql() {
    source_of database/create-database.sql
    step "creating database $database_name and its user (mysql client, standard connection settings)"
    if [ "$dry_run" = true ]; then
        echo "would run database/create-database.sql through mysql"
    else
        mysql < "$SOURCE" 9>&-
    fi
    if [ -n "$schema" ]; then
        step "loading Harbor's schema from $schema (only into an empty database)"
        if [ "$dry_run" = true ]; then
            echo "would run: database/load-schema.sh $schema"
        else
            "$here/database/load-schema.sh" "$schema" 9>&-
            note_change "loaded Harbor's schema from $schema"
        fi
    fi
}

# The question keepalived asks before this member may hold the database's address (read-only).
is_a_synced_member() {
    "$here/keepalived/check-galera.sh" /run/mysqld/mysqld.sock 9>&- 2>/dev/null
}

# A Galera member runs the SQL only as a Synced member: the statements replicate to every member,
# and a member not started yet has no cluster to write to. Starting is the operator's: the first
# start of a cluster must happen on exactly one node.
set_up_galera() {
    if is_a_synced_member; then
        set_up_mysql
        return
    fi
    [ -z "$schema" ] || fail "--schema needs a Synced Galera member here: start the cluster first"
    step "Galera: MariaDB does not run here as a Synced member yet"
    echo "First start, or after every member stopped: database/galera.sh bootstrap (it names the node to start)."
    echo "Otherwise: systemctl start mariadb (this node joins the others); then run apply.sh again."
}

wrote() {
    local path
    for path in ${written[@]+"${written[@]}"}; do
        [ "$path" = "$1" ] && return 0
    done
    return 1
}

# etcd of Patroni's leader lock, on each of its members (which need not be database nodes). Not waited
# for: the first member of a new cluster is ready only once a majority of them runs.
start_etcd() {
    if [ "$checking" = true ]; then
        systemctl is-active --quiet etcd || drift etcd "etcd does not run: Patroni's leader lock has one member fewer"
        return
    fi
    local verb=restart
    if ! wrote etcd/etcd.env; then
        systemctl is-active --quiet etcd && return 0
        verb=start
    fi
    step "etcd: systemctl $verb"
    if [ "$dry_run" = true ]; then
        echo "would run: systemctl $verb --no-block etcd"
    else
        systemctl enable --quiet etcd
        systemctl "$verb" --no-block etcd
        note_change "etcd: $verb"
    fi
}

# The leader's question, the one keepalived asks before this member may hold the database's address.
is_the_patroni_leader() {
    "$here/keepalived/check-patroni.sh" "${patroni_rest_api:?values.sh of a Patroni member names it}" 9>&- 2>/dev/null
}

# Debian's postgresql-15 makes and starts a cluster of its own (15/main) on port 5432, where this
# member's PostgreSQL must listen. Stopping a database that may hold data is the operator's decision
# (RUNBOOK.md), never apply.sh's.
refuse_a_running_stock_cluster() {
    command -v pg_lsclusters >/dev/null || return 0
    local version name port status
    while read -r version name port status _; do
        if [ "$port" = "$database_port" ] && [ "$status" = online ]; then
            fail "PostgreSQL $version/$name runs on port $port, which this Patroni member needs: move its data if it holds any," \
                "then pg_ctlcluster $version $name stop and systemctl disable postgresql@$version-$name (RUNBOOK.md)"
        fi
    done < <(pg_lsclusters --no-header 2>/dev/null)
}

# A Patroni member: Patroni started, or reloaded when its file changed (PostgreSQL keeps running).
# The cluster's settings and the Harbor role are the whole cluster's: the leader's apply.sh gives
# the settings to patronictl edit-config and runs the SQL (post_bootstrap ran it when the cluster
# was made); any other member's says where they went.
set_up_patroni() {
    local config=${patroni_config:?values.sh of a Patroni member names it}
    step "Patroni: starting it, or reloading it when its configuration changed"
    if [ "$dry_run" = true ]; then
        echo "would run: systemctl start patroni (or reload it); on the leader, patronictl edit-config and the Harbor role's SQL"
        return
    fi
    systemctl enable --quiet patroni
    if ! systemctl is-active --quiet patroni; then
        refuse_a_running_stock_cluster
        systemctl start patroni
        note_change "patroni: start"
    elif wrote database/patroni.yml; then
        systemctl reload patroni
        note_change "patroni: reload"
    fi
    if ! is_the_patroni_leader; then
        echo "this member does not lead the cluster now: the leader's apply.sh applies the cluster's settings and the Harbor role's SQL"
        echo "(patronictl -c $config list shows the leader)"
        return
    fi
    local settings=() setting
    # shellcheck disable=SC2154  # values.sh of a Patroni member assigns it, beside patroni_config
    for setting in "${patroni_settings[@]}"; do
        settings+=(--set "$setting")
    done
    patronictl -c "$config" edit-config --quiet --force "${settings[@]}" 9>&- >/dev/null \
        || fail "patronictl edit-config refused the cluster's settings (${patroni_settings[*]})"
    echo "the cluster's settings in etcd: ${patroni_settings[*]}"
    source_of database/harbor-role.sql
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 --host=/run/postgresql --port="$database_port" --file=- < "$SOURCE" 9>&- \
        || fail "psql failed on database/harbor-role.sql: nothing after it was done"
    echo "role $database_user and database $database_name are set up (on the leader)"
}

# --- a sentinel of a Redis Sentinel set (redis.nodes) ---------------------------------

# Sentinel rewrites its own file at every failover (the master now, the replicas and sentinels it
# knows): installed again, the bundle's file would send a restarted sentinel back to the old master.
# So redis/sentinel.conf is a seed, written only while the installed file watches no master set of
# ours (Debian's own watches "mymaster"); after that, apply.sh gives its settings to the running
# sentinel with SENTINEL SET, and Sentinel keeps them in its file.

# ask_sentinel ADDRESS:PORT ARGUMENT...: the sentinel's answer, one value a line; nothing when it does not answer.
ask_sentinel() {
    local address=${1%:*} port=${1##*:}
    shift
    timeout 5 redis-cli -h "$address" -p "$port" --raw "$@" 9>&- 2>/dev/null
}

# watches_the_set FILE SET: the sentinel's file watches SET.
watches_the_set() {
    local first second name _
    while read -r first second name _; do
        [ "${first,,} ${second,,} $name" = "sentinel monitor $2" ] && return 0
    done < "$1"
    return 1
}

# find_the_master SET PEER...: sets master to "ADDRESS PORT", the master of SET as the peer with the newest
# configuration names it (a failover raises config-epoch, and the sentinels adopt the highest), and says
# what each peer answered; master is empty when none answers (a new set). Right after a failover a peer
# may still name the old master: a sentinel seeded with it would watch a replica, and never follow.
# The address comes from get-master-addr-by-name, asked after the epoch: the failover's leader raises
# its epoch at the promotion but lists the old master in SENTINEL master until the replicas follow.
find_the_master() {
    local set=$1 peer epoch named newest=-1
    shift
    master=""
    for peer in "$@"; do
        read_sentinel "$peer" "$set"
        epoch=${sentinel_now[config-epoch]:-}
        named=$(ask_sentinel "$peer" SENTINEL get-master-addr-by-name "$set" | paste -sd ' ') || named=""
        if ! [[ $epoch =~ ^[0-9]+$ && $named =~ ^[^[:space:]]+\ [0-9]+$ ]]; then
            echo "the sentinel on $peer does not answer"
            continue
        fi
        echo "the sentinel on $peer names $named (config-epoch $epoch)"
        if (( epoch > newest )); then
            newest=$epoch
            master=$named
        fi
    done
}

# seed_naming SET "ADDRESS PORT" < SEED: the seed with its monitor line on that master (the quorum stays);
# as it is when no master is given.
seed_naming() {
    local line first second name _address _port quorum
    while IFS= read -r line; do
        read -r first second name _address _port quorum <<< "$line"
        if [ -n "$2" ] && [ "$first $second $name" = "sentinel monitor $1" ]; then
            line="sentinel monitor $1 $2 $quorum"
        fi
        printf '%s\n' "$line"
    done
}

sentinel_answers() {
    [ "$(ask_sentinel "$1" PING)" = PONG ]
}

# read_sentinel ADDRESS:PORT SET: what the sentinel says of SET (SENTINEL master), into sentinel_now.
declare -A sentinel_now=()
read_sentinel() {
    local key value
    sentinel_now=()
    while IFS= read -r key && IFS= read -r value; do
        sentinel_now[$key]=$value
    done < <(ask_sentinel "$1" SENTINEL master "$2")
}

# sentinel_settings_differ ADDRESS:PORT SET KEY VALUE...: the running sentinel's differ from these (SENTINEL SET's pairs).
sentinel_settings_differ() {
    read_sentinel "$1" "$2"
    shift 2
    while [ $# -ge 2 ]; do
        [ "${sentinel_now[$1]:-}" = "$2" ] || return 0
        shift 2
    done
    return 1
}

# sentinel_knows_the_set ADDRESS:PORT SET OTHERS: it knows OTHERS other sentinels and OTHERS replicas. It learns
# a replica only from the master's INFO: one that wins an election knowing none aborts the failover.
sentinel_knows_the_set() {
    read_sentinel "$1" "$2"
    [ "${sentinel_now[num-other-sentinels]:-0}" -ge "$3" ] && [ "${sentinel_now[num-slaves]:-0}" -ge "$3" ]
}

# give_the_sentinel_its_settings ADDRESS:PORT SET KEY VALUE...
give_the_sentinel_its_settings() {
    local sentinel=$1 set=$2
    shift 2
    if ! sentinel_answers "$sentinel"; then
        echo "the sentinel does not answer on $sentinel: start it (systemctl start redis-sentinel), then apply again"
    elif ! sentinel_settings_differ "$sentinel" "$set" "$@"; then
        echo "unchanged: the sentinel's settings ($*)"
    elif [ "$dry_run" = true ]; then
        echo "would run: SENTINEL SET $set $*"
    else
        [ "$(ask_sentinel "$sentinel" SENTINEL SET "$set" "$@")" = OK ] || fail "the sentinel on $sentinel refused SENTINEL SET $set $*"
        note_change "sentinel: SENTINEL SET $set $*"
        echo "gave the sentinel its settings: $*"
    fi
}

# shellcheck disable=SC2154  # values.sh of a Sentinel set's Redis node assigns sentinel_peers and sentinel_settings
set_up_sentinel() {
    local destination=$root${sentinel_conf:?values.sh of a sentinel names it} set=${sentinel_master_set:?values.sh names it}
    local sentinel=${sentinel_address:?values.sh names it} master temporary
    command -v redis-cli >/dev/null || fail "redis-cli is missing: install redis-tools (Debian's redis-sentinel brings it)"
    if [ "$checking" = true ]; then
        if [ ! -f "$destination" ] || ! watches_the_set "$destination" "$set"; then
            drift "$destination" "this node's sentinel was never seeded: it watches no $set"
        elif ! sentinel_answers "$sentinel"; then
            drift redis-sentinel "the sentinel does not answer on $sentinel: the set has one sentinel fewer"
        elif sentinel_settings_differ "$sentinel" "$set" "${sentinel_settings[@]}"; then
            drift redis-sentinel "the sentinel's settings are not ${sentinel_settings[*]}: apply.sh gives them with SENTINEL SET"
        elif ! sentinel_knows_the_set "$sentinel" "$set" "${#sentinel_peers[@]}"; then
            drift redis-sentinel "the sentinel knows ${sentinel_now[num-other-sentinels]:-0} other sentinels and ${sentinel_now[num-slaves]:-0} replicas of $set, not ${#sentinel_peers[@]} of each: it could not fail the master over"
        fi
        return 0
    fi
    if not_a_file "$destination"; then
        fail "will not write $destination: it is $(kind_of "$destination") where a regular file belongs: move it away"
    fi
    step "the sentinel of $set"
    if [ -f "$destination" ] && watches_the_set "$destination" "$set"; then
        echo "kept: $destination (seeded before; the sentinel's own since)"
        give_the_sentinel_its_settings "$sentinel" "$set" "${sentinel_settings[@]}"
        return
    fi
    source_of redis/sentinel.conf
    find_the_master "$set" "${sentinel_peers[@]}"
    if [ "$dry_run" = true ]; then
        echo "would write $destination (mode 0600), watching ${master:-the master the seed names}"
        return
    fi
    refuse_unsafe_target "$destination" redis
    mkdir -p "$(dirname "$destination")"
    keep_the_original "$destination"
    temporary=$(mktemp "$destination.harborgen.XXXXXX")
    seed_naming "$set" "$master" < "$SOURCE" > "$temporary"
    chmod 0600 "$temporary"
    replace_file "$temporary" "$destination"
    give_to redis "$destination"
    echo "seeded $destination (mode 0600), watching ${master:-the master the seed names: no other sentinel answered}"
    written+=(redis/sentinel.conf)
}

# The new site is checked before anything is installed: a bad one never reaches the running
# nginx, nor the one a reboot would start from the installed directory.
validate_load_balancer() {
    [ "$checking" = false ] || return 0
    source_of nginx/default.conf
    step "checking the new load-balancer site with nginx -t (a throw-away container without a network)"
    if [ "$dry_run" = true ]; then
        echo "would run: nginx/run-nginx.sh --validate nginx/default.conf"
    else
        "$here/nginx/run-nginx.sh" --validate "$SOURCE" 9>&- \
            || fail "nginx refuses the new site: nothing was installed, the running load balancer is untouched"
    fi
}

# keepalived of a load-balancer pair or a Galera node: reloaded when apply wrote one of its files (the floating
# address stays where it is), started when it does not run.
start_keepalived() {
    if [ "$checking" = true ]; then
        systemctl is-active --quiet keepalived || drift keepalived "keepalived does not run: this node cannot take the floating address"
        return
    fi
    local path reload=false
    for path in ${written[@]+"${written[@]}"}; do
        [[ $path == keepalived/* ]] && reload=true
    done
    if [ "$reload" = false ] && systemctl is-active --quiet keepalived; then
        return
    fi
    step "reloading keepalived (or starting it)"
    if [ "$dry_run" = true ]; then
        echo "would run: systemctl reload-or-restart keepalived"
    else
        systemctl daemon-reload  # its drop-in may be new
        systemctl enable --quiet keepalived
        systemctl reload-or-restart keepalived
        note_change "keepalived: reload-or-restart"
    fi
}

start_load_balancer() {
    if [ "$checking" = true ]; then
        "$here/nginx/run-nginx.sh" --check ${root:+--root "$root"} \
            || drift nginx-harbor "the load balancer does not run this bundle's configuration"
        return
    fi
    step "starting or reloading the load balancer"
    if [ "$dry_run" = true ]; then
        echo "would run: nginx/run-nginx.sh"
    else
        "$here/nginx/run-nginx.sh" ${root:+--root "$root"} 9>&-
    fi
}

if has_role load-balancer; then validate_load_balancer; fi
install_listed before-mount "installing the files this node needs before CephFS is mounted"
if has_role harbor; then mount_for_harbor; fi
install_listed shared
install_listed after-mount "installing the files of this bundle"
if [ "${etcd_member:-false}" = true ]; then start_etcd; fi  # values.sh names it in a Patroni cluster's bundles only
if has_role database; then set_up_database; fi
if [ -n "${sentinel_conf:-}" ]; then set_up_sentinel; fi  # values.sh names it on a Sentinel set's Redis nodes only
if has_role load-balancer; then start_load_balancer; fi
if { has_role load-balancer || has_role database; } && [ "${keepalived:?values.sh of a load balancer or database node says}" = true ]; then
    start_keepalived
fi
if [ "$checking" = true ]; then
    report_check
    exit $?
fi
if has_role ceph-admin; then
    echo "ceph-admin: ceph/bootstrap-cephfs.sh creates the CephFS once; apply.sh does not run it."
fi
write_record

step "done"
if has_role harbor; then
    echo "Next, on this node: $here/install-harbor.sh   (instead of ./install.sh; one Harbor node at a time)"
fi
if has_role redis; then
    echo "Next, on this node: add 'include ${redis_conf:?values.sh of a Redis node names it}' at the end of redis.conf and restart Redis"
fi
if wrote redis/sentinel.conf; then
    echo "Then: make this Redis a replica of the set's master unless it is that master (REPLICAOF, RUNBOOK.md), and systemctl restart redis-sentinel"
fi
# The last line: what a rollout tool reports (ansible/site.yml reads it).
if [ "$dry_run" = false ]; then report_changes; fi
