"""The load-balancer role (templates/nginx/)."""

from __future__ import annotations

from ..review.impacts import Action, Impact
from .catalogue import Install, Row, script

# A new site is validated, installed, and loaded by a graceful reload: old workers finish
# their transfers. Only what the container is run with (values.sh's balancer_*) replaces it.
RELOADS = (Impact(Action.RELOAD_BALANCER),)
REPLACES_THE_CONTAINER = (Impact(Action.REPLACE_BALANCER),)

ROWS = (
    Row("nginx/default.conf", "nginx/default.conf.j2", ("load-balancer",), "nginx", RELOADS,
        Install(lambda cluster, node: f"{cluster.load_balancer.conf_dir}/default.conf")),
    script("nginx/run-nginx.sh", "run-nginx.sh", ("load-balancer",), "apply.sh", REPLACES_THE_CONTAINER),
)
