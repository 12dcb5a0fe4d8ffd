#!/usr/bin/env bash
# The load balancer of the Harbor cluster: an nginx container that mounts the directory
# apply.sh installs the site into ($balancer_conf_dir, read-only), never the bundle.
#
#   run-nginx.sh --validate FILE   nginx -t on FILE in a throw-away container without a network,
#                                  before apply.sh installs it: a bad site never reaches the
#                                  running nginx, nor the one a restart would start
#   run-nginx.sh [--root DIR]      start the container; or reload it gracefully when the site
#                                  changed (old workers finish their transfers); or replace it
#                                  when what it runs with changed (image, port, mounts); in a
#                                  pair, the node holding the floating address first hands it
#                                  to the other, so that clients move instead of being cut
#   run-nginx.sh --check [--root DIR]   change nothing: exit 0 when the container runs with
#                                  these settings and has loaded the installed site
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
name=nginx-harbor
mode=run root="" file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --validate) mode=validate; file=${2:?--validate needs a file}; shift ;;
        --check) mode=check ;;
        --root) root=${2:?--root needs a directory}; shift ;;
        *) echo "usage: $0 [--validate FILE | --check] [--root DIR]" >&2; exit 2 ;;
    esac
    shift
done

conf_dir=$root${balancer_conf_dir:?values.sh of a load balancer names it}
# The digest of the site the running nginx loaded last, written after each start or reload.
loaded=$root/var/lib/harborgen/$cluster/balancer.loaded
tls_volumes=()
for tls_file in ${balancer_tls_files[@]+"${balancer_tls_files[@]}"}; do
    tls_volumes+=(--volume "$tls_file:$tls_file:ro")
done
# What the container is run with: only a change of these replaces it.
settings=$(printf '%s\n' "$balancer_image" "$balancer_listen" "$conf_dir" ${balancer_tls_files[@]+"${balancer_tls_files[@]}"} \
    | sha256sum | cut -d' ' -f1)

if [ "$mode" = validate ]; then
    docker run --rm --network none --volume "$file:/etc/nginx/conf.d/default.conf:ro" \
        ${tls_volumes[@]+"${tls_volumes[@]}"} "$balancer_image" nginx -t
    exit
fi

site=$(sha256sum < "$conf_dir/default.conf" | cut -d' ' -f1)

# note_change TEXT: what this run changed on the machine, for apply.sh's last line (HARBORGEN_CHANGES
# names the file it collects them in; unset when this script runs alone).
note_change() {
    [ -z "${HARBORGEN_CHANGES:-}" ] || printf '%s\n' "$1" >> "$HARBORGEN_CHANGES"
}

runs_these_settings() {
    grep -qF "\"harborgen.settings\": \"$settings\"" <<<"$current" && grep -qF '"Running": true' <<<"$current"
}

has_loaded_the_site() {
    [ -f "$loaded" ] && [ "$(cat "$loaded")" = "$site" ]
}

record_loaded() {
    mkdir -p "$(dirname "$loaded")"
    printf '%s\n' "$site" > "$loaded.new"
    mv -f "$loaded.new" "$loaded"
}

current=$(docker container inspect "$name" 2>/dev/null) || current=""
if [ "$mode" = check ]; then
    [ -n "$current" ] && runs_these_settings && has_loaded_the_site
    exit
fi

if [ -n "$current" ] && runs_these_settings; then
    if has_loaded_the_site; then
        echo "load balancer $name already runs this configuration"
        exit 0
    fi
    docker kill --signal HUP "$name" >/dev/null
    record_loaded
    note_change "load balancer $name: graceful reload"
    echo "load balancer $name reloaded its site gracefully (transfers in flight finish on the old workers)"
    exit 0
fi

holds_the_floating_address() {
    [ "${keepalived:?values.sh of a load balancer says}" = true ] \
        && ip -o -4 address show to "${floating_address:?values.sh of a pair names it}/32" | grep -q .
}

# Stopped, keepalived gives the address up at once (a priority-0 advert); the other node takes it
# within its skew time, under a second. Bounded: a keepalived that keeps the address is started again
# and nothing is replaced.
hand_over_the_floating_address() {
    echo "handing $floating_address to the other load balancer before this node's container is replaced"
    systemctl stop keepalived
    local tries=0
    while holds_the_floating_address; do
        tries=$((tries + 1))
        if [ "$tries" -gt 50 ]; then
            systemctl start keepalived
            echo "run-nginx.sh: $floating_address is still on this node 5 s after keepalived stopped: nothing was replaced" >&2
            exit 1
        fi
        sleep 0.1
    done
    sleep 1
}

handed_over=false
if [ -n "$current" ]; then
    if holds_the_floating_address; then
        hand_over_the_floating_address
        handed_over=true
    fi
    echo "replacing the container $name: its image, port or mounts changed (transfers in flight are cut)"
    docker rm -f "$name" >/dev/null
fi
docker run --detach --name "$name" --restart always \
    --label "harborgen.settings=$settings" \
    --publish "$balancer_listen:$balancer_listen" \
    --volume "$conf_dir:/etc/nginx/conf.d:ro" \
    ${tls_volumes[@]+"${tls_volumes[@]}"} \
    "$balancer_image" >/dev/null
record_loaded
note_change "load balancer $name: a new container"
echo "load balancer $name listening on port $balancer_listen"
if [ "$handed_over" = true ]; then
    # Back as BACKUP: nopreempt leaves the address where it went.
    systemctl start keepalived
fi
