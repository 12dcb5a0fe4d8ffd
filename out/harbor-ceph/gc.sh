#!/usr/bin/env bash
# Cluster-wide garbage collection of the registry blobs on CephFS. Every
# registry shares one storage, so GC is safe only while all of them are
# stopped: this script stops Harbor on every node (one at a time), runs a dry
# run on the first Harbor node, asks for confirmation, runs GC once there, and starts every
# node again, one at a time, each once the previous one answers, whatever
# happened in between.
#   usage: gc.sh [--dry-run-only] [--yes]
# Reaches the nodes with ${HARBORGEN_SSH:-ssh} (set HARBORGEN_SSH to e.g. "ssh -l admin").
# HARBORGEN_START_TIMEOUT: seconds each node may take to answer after its start (default 600).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/values.sh
. "$here/values.sh"
ssh_command=${HARBORGEN_SSH:-ssh}
registry_image='vmware/registry:2.6.1-photon'
gc_node=${harbor_addresses[0]}

dry_run_only=false
assume_yes=false
for argument in "$@"; do
    case "$argument" in
        --dry-run-only) dry_run_only=true ;;
        --yes) assume_yes=true ;;
        *) echo "usage: $0 [--dry-run-only] [--yes]" >&2; exit 2 ;;
    esac
done

on() {
    local address=$1
    shift
    # shellcheck disable=SC2086 # HARBORGEN_SSH may carry options
    $ssh_command "$address" "$@"
}

# wait_until_answering INDEX: poll the node's own address from the node, a bounded time.
wait_until_answering() {
    local address=${harbor_addresses[$1]} url=${harbor_urls[$1]}
    local deadline=$((SECONDS + ${HARBORGEN_START_TIMEOUT:-600}))
    until on "$address" "curl --silent --insecure --fail --output /dev/null --max-time 10 $url"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "WARNING: Harbor on $address does not answer on $url after ${HARBORGEN_START_TIMEOUT:-600} s: look at it before trusting the cluster" >&2
            return 1
        fi
        sleep "${HARBORGEN_POLL_SECONDS:-5}"
    done
    echo "Harbor on $address answers on $url"
}

# Start the nodes one at a time, each once the previous one answers: two adminservers
# starting at once race on the shared configuration, and each jobservice start resets
# running jobs. A node that fails is reported, and the others are started all the same.
start_all() {
    local status=$? index address
    for index in "${!harbor_addresses[@]}"; do
        address=${harbor_addresses[$index]}
        echo "starting Harbor on $address"
        if ! on "$address" "cd $(printf %q "$installer_dir") && docker-compose start"; then
            echo "WARNING: could not start Harbor on $address: start it by hand" >&2
            status=1
            continue
        fi
        wait_until_answering "$index" || status=1
    done
    exit "$status"
}

echo "stopping Harbor on every node"
trap start_all EXIT
for address in "${harbor_addresses[@]}"; do
    echo "stopping Harbor on $address"
    on "$address" "cd $(printf %q "$installer_dir") && docker-compose stop"
done

gc() {
    on "$gc_node" "docker run --rm --volumes-from registry $registry_image garbage-collect ${1:+$1 }/etc/registry/config.yml"
}

echo "dry run on $gc_node: what would be deleted"
gc --dry-run
if [ "$dry_run_only" = true ]; then
    exit 0
fi
if [ "$assume_yes" = false ]; then
    read -r -p "Delete these blobs for cluster $cluster? Type the cluster name to go on: " answer
    if [ "$answer" != "$cluster" ]; then
        echo "not confirmed: nothing deleted"
        exit 1
    fi
fi
echo "garbage collection on $gc_node"
gc
