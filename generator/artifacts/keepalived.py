"""keepalived on the machines of a group that shares a floating address (templates/keepalived/): a
load-balancer pair, a Galera database whose address only a Synced member holds, and a Patroni
database whose address only its leader holds. A machine in both groups runs one keepalived with one
VRRP instance per group.

keepalived runs on the host, from the distribution's package under systemd, not in a container:
it needs the host's network namespace and NET_ADMIN anyway, its track scripts must reach the
nginx the host publishes and the local MariaDB, and the package keeps its configuration in
/etc/keepalived, where apply.sh installs it and --check reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InternalError
from ..model import Cluster, Node, SqlDatabase, Vrrp
from ..review.impacts import Action, Impact
from .catalogue import Install, Row

CONF = "/etc/keepalived/keepalived.conf"
CHECK_NGINX = "/etc/keepalived/harborgen-check-nginx.sh"
CHECK_GALERA = "/etc/keepalived/harborgen-check-galera.sh"
CHECK_PATRONI = "/etc/keepalived/harborgen-check-patroni.sh"
NOTIFY_SCRIPT = "/etc/keepalived/harborgen-notify.sh"
DROP_IN = "/etc/systemd/system/keepalived.service.d/harborgen.conf"
# Debian's MariaDB socket: the Galera check asks the local server as root, by unix_socket authentication.
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"

RELOADS = (Impact(Action.RELOAD_KEEPALIVED),)


@dataclass(frozen=True)
class Instance:
    """One VRRP group this machine is a member of."""

    name: str  # of the vrrp_instance and its vrrp_script
    vrrp: Vrrp
    script: str  # the track script, installed
    argument: str
    fails_when: str  # for the configuration's comment

    @property
    def check(self) -> str:
        return f"{self.script} {self.argument}"


def instances(cluster: Cluster, node: Node) -> tuple[Instance, ...]:
    found = []
    balancer, database = cluster.load_balancer, cluster.database
    word = cluster.name.replace("-", "_")  # keepalived names are words; a cluster name is a DNS label
    if balancer.vrrp and node in balancer.nodes:
        found.append(Instance(f"harbor_{word}", balancer.vrrp, CHECK_NGINX, str(balancer.listen),
                              f"this node's nginx does not answer on {balancer.listen}"))
    if database.vrrp and node in database.nodes:
        found.append(Instance(f"database_{word}", database.vrrp, *_holder_check(database, node)))
    return tuple(found)


def _holder_check(database: SqlDatabase, node: Node) -> tuple[str, str, str]:
    """(script, argument, when it fails) of the question a database member answers before it may hold the address."""
    if database.engine == "galera":
        return CHECK_GALERA, MARIADB_SOCKET, "this node's MariaDB is not a Synced member of the primary component"
    if database.engine == "patroni":
        return CHECK_PATRONI, database.patroni.rest_api(node), "this node's Patroni does not lead the cluster with a running primary"  # type: ignore[attr-defined]
    raise InternalError(f"a {database.engine} database has no floating address")


def _in_a_group(cluster: Cluster, node: Node) -> bool:
    return bool(instances(cluster, node))


def _tracked_with(script: str):
    """The row of a track script: in the bundles of the machines whose instances run it."""
    return lambda cluster, node: any(instance.script == script for instance in instances(cluster, node))


def _at(path: str) -> Install:
    return Install(lambda cluster, node: path)


def _values(cluster: Cluster, node: Node, bundle) -> dict:
    return {"instances": instances(cluster, node), "notify_script": NOTIFY_SCRIPT}


ROLES = ("load-balancer", "database")
ROWS = (
    Row("keepalived/keepalived.conf", "keepalived/keepalived.conf.j2", ROLES, "text", RELOADS, _at(CONF),
        when=_in_a_group, values=_values),
    Row("keepalived/check-nginx.sh", "scripts/check-nginx.sh", ("load-balancer",), "text", RELOADS, _at(CHECK_NGINX),
        when=_tracked_with(CHECK_NGINX)),
    Row("keepalived/check-galera.sh", "scripts/check-galera.sh", ("database",), "text", RELOADS, _at(CHECK_GALERA),
        when=_tracked_with(CHECK_GALERA)),
    Row("keepalived/check-patroni.sh", "scripts/check-patroni.sh", ("database",), "text", RELOADS, _at(CHECK_PATRONI),
        when=_tracked_with(CHECK_PATRONI)),
    Row("keepalived/notify.sh", "scripts/keepalived-notify.sh", ROLES, "text", RELOADS, _at(NOTIFY_SCRIPT),
        when=_in_a_group),
    Row("keepalived/keepalived-service.conf", "keepalived/keepalived-service.conf.j2", ROLES, "text", RELOADS,
        _at(DROP_IN), when=_in_a_group, values=_values),
)
