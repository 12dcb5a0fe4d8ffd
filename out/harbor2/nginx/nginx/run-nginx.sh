#!/usr/bin/env bash
# Starts the load balancer of the Harbor cluster as a container, with this
# bundle's default.conf as its only site. Safe to run again: a container
# already running this exact configuration is left alone; otherwise it is
# replaced, so a changed default.conf takes effect.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../values.sh
. "$here/../values.sh"
name=nginx-harbor
image=$balancer_image
listen=$balancer_listen
tls_volumes=()
for file in ${balancer_tls_files[@]+"${balancer_tls_files[@]}"}; do
    tls_volumes+=(--volume "$file:$file:ro")
done
wanted=$(cat "$here/default.conf" <(printf '%s %s\n' "$image" "$listen") | sha256sum | cut -d' ' -f1)

runs_this_configuration() {
    grep -qF "\"harborgen.config\": \"$wanted\"" <<<"$current" && grep -qF '"Running": true' <<<"$current"
}

if [ "${1:-}" = --check ]; then  # for apply.sh --check: change nothing, answer with the exit code
    current=$(docker container inspect "$name" 2>/dev/null) && runs_this_configuration
    exit
fi

if current=$(docker container inspect "$name" 2>/dev/null); then
    if runs_this_configuration; then
        echo "load balancer $name already runs this configuration"
        exit 0
    fi
    echo "replacing the container $name"
    docker rm -f "$name" >/dev/null
fi

docker run --detach --name "$name" --restart always \
    --label "harborgen.config=$wanted" \
    --publish "$listen:$listen" \
    --volume "$here/default.conf:/etc/nginx/conf.d/default.conf:ro" \
    ${tls_volumes[@]+"${tls_volumes[@]}"} \
    "$image"

# Fail now, not on the first push, when the configuration does not load.
docker exec "$name" nginx -t
echo "load balancer $name listening on port $listen"
