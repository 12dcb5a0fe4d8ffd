"""A load-balancer pair (templates/keepalived/): keepalived moves the floating address between them.

keepalived runs on the host, from the distribution's package under systemd, not in a container:
it needs the host's network namespace and NET_ADMIN anyway, its track script must reach the
nginx the host publishes, and the package keeps its configuration in /etc/keepalived, where
apply.sh installs it and --check reads it.
"""

from __future__ import annotations

from ..model import Cluster
from ..review.impacts import Action, Impact
from .catalogue import Install, Row

CONF = "/etc/keepalived/keepalived.conf"
CHECK_SCRIPT = "/etc/keepalived/harborgen-check-nginx.sh"
NOTIFY_SCRIPT = "/etc/keepalived/harborgen-notify.sh"
DROP_IN = "/etc/systemd/system/keepalived.service.d/harborgen.conf"

RELOADS = (Impact(Action.RELOAD_KEEPALIVED),)


def _a_pair(cluster: Cluster) -> bool:
    return cluster.load_balancer.vrrp is not None


def _at(path: str) -> Install:
    return Install(lambda cluster, node: path)


def _values(cluster, node, bundle) -> dict:
    return {"vrrp": cluster.load_balancer.vrrp, "check_script": CHECK_SCRIPT, "notify_script": NOTIFY_SCRIPT}


ROWS = (
    Row("keepalived/keepalived.conf", "keepalived/keepalived.conf.j2", ("load-balancer",), "text", RELOADS, _at(CONF),
        when=_a_pair, values=_values),
    Row("keepalived/check-nginx.sh", "scripts/check-nginx.sh", ("load-balancer",), "text", RELOADS, _at(CHECK_SCRIPT),
        when=_a_pair),
    Row("keepalived/notify.sh", "scripts/keepalived-notify.sh", ("load-balancer",), "text", RELOADS, _at(NOTIFY_SCRIPT),
        when=_a_pair),
    Row("keepalived/keepalived-service.conf", "keepalived/keepalived-service.conf.j2", ("load-balancer",), "text", RELOADS,
        _at(DROP_IN), when=_a_pair, values=_values),
)
