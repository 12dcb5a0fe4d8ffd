"""The load-balancer role (templates/nginx/)."""

from __future__ import annotations

from ..review.impacts import Action, Impact
from .catalogue import Row, RunsFromBundle, script

REPLACES_THE_CONTAINER = (Impact(Action.REPLACE_BALANCER),)

ROWS = (
    Row("nginx/default.conf", "nginx/default.conf.j2", ("load-balancer",), "nginx", REPLACES_THE_CONTAINER,
        RunsFromBundle("nginx/run-nginx.sh, which mounts it into the nginx container")),
    script("nginx/run-nginx.sh", "run-nginx.sh", ("load-balancer",), "apply.sh", REPLACES_THE_CONTAINER),
)
