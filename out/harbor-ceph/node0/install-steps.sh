#!/usr/bin/env bash
# The steps both install scripts share (install-harbor.sh of Harbor 1.1.2 and of
# Harbor 2.15): sourced by them, never run on its own. Every value comes as an
# argument, so that each rule stands here once, for both targets.

fail() {
    echo "install-harbor: $*" >&2
    exit 1
}

# check_mounted ROOT TARGET...: every CephFS directory of the node is mounted, and is CephFS.
check_mounted() {
    local root=$1 target type
    shift
    for target in "$@"; do
        mountpoint -q "$root$target" \
            || fail "$root$target is not mounted: run apply.sh (it mounts CephFS). Harbor must never start without it"
        type=$(findmnt --noheadings --output FSTYPE --mountpoint "$root$target")
        case "$type" in
            ceph | fuse.ceph | fuse.ceph-fuse) ;;
            *) fail "$root$target is a $type mount, not CephFS: refusing to start Harbor on it" ;;
        esac
    done
}

# load_images: the offline installer's images (harbor*.tar.gz in the working directory), as install.sh loads them.
load_images() {
    local archive
    for archive in harbor*.tar.gz; do
        [ -f "$archive" ] || continue
        echo "== docker load -i $archive"
        docker load -i "$archive"
    done
}

# wait_until_answering PROBE_URL NODE_URL: poll until Harbor answers, or fail after HARBORGEN_START_TIMEOUT s (600).
wait_until_answering() {
    local probe=$1 node_url=$2
    local deadline=$((SECONDS + ${HARBORGEN_START_TIMEOUT:-600}))
    until curl --silent --insecure --fail --output /dev/null --max-time 10 "$probe"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "Harbor does not answer on $node_url after ${HARBORGEN_START_TIMEOUT:-600} s: look at its logs before starting another node"
        sleep "${HARBORGEN_POLL_SECONDS:-5}"
    done
    echo "Harbor answers on $node_url: the next node may start"
}
