"""A MariaDB Galera database for Harbor 1.1.2 (templates/database/galera.cnf.j2, scripts/galera.sh):
every database node is a member, and Harbor reaches one of them, the holder of the floating address
(keepalived, generator/artifacts/keepalived.py)."""

from __future__ import annotations

from dataclasses import replace

from ...artifacts.catalogue import Install, Row, script
from ...model import Cluster, Node
from ...review.impacts import Action, Impact

# Read after Debian's 50-server.cnf and 60-galera.cnf.
DROP_IN = "/etc/mysql/mariadb.conf.d/70-harborgen-galera.cnf"


def _galera(cluster: Cluster, node: Node) -> bool:
    return cluster.database.vrrp is not None


ROWS = (
    Row("database/galera.cnf", "database/galera.cnf.j2", ("database",), "ini",
        (Impact(Action.RESTART_DATABASE),), Install(lambda cluster, node: DROP_IN), when=_galera),
    replace(script("database/galera.sh", "galera.sh", ("database",), "the operator: the first start, and after a whole-cluster outage"),
            when=_galera),
)
