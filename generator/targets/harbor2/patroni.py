"""A Patroni PostgreSQL cluster for Harbor 2.15 (templates/patroni/): every database node runs Patroni,
which runs its PostgreSQL and keeps the leader lock in etcd; Harbor reaches one member, the holder
of the floating address, which only the leader holds (keepalived, generator/artifacts/keepalived.py).

Debian's packages are used as they come: patroni.service reads /etc/patroni/config.yml, etcd.service
reads /etc/default/etcd.
"""

from __future__ import annotations

from ...artifacts.catalogue import Install, Row
from ...model import ROLE_ORDER, Cluster, Node
from ...review.impacts import Action, Impact
from .model import own

PATRONI_CONFIG = "/etc/patroni/config.yml"
POST_BOOTSTRAP = "/etc/patroni/harborgen-post-bootstrap.sh"
ETCD_ENV = "/etc/default/etcd"


def harbor_sql(cluster: Cluster) -> str:
    """Where the Harbor role's SQL lies on a member: Patroni's post_bootstrap and apply.sh read it."""
    return f"/etc/patroni/harborgen-{cluster.name}.sql"


def etcd_data_dir(cluster: Cluster) -> str:
    return f"/var/lib/etcd/harborgen-{cluster.name}"


def patroni_cluster(cluster: Cluster, node: Node) -> bool:
    return own(cluster).database.patroni is not None


def single_server(cluster: Cluster, node: Node) -> bool:
    return own(cluster).database.patroni is None


def _etcd_member(cluster: Cluster, node: Node) -> bool:
    patroni = own(cluster).database.patroni
    return patroni is not None and patroni.etcd_member(node)


def _at(path: str, service_user: str = "") -> Install:
    return Install(lambda cluster, node: path, service_user=service_user)


def paths(cluster: Cluster) -> dict:
    """Where a member's files lie: its templates and the RUNBOOK name them."""
    return {"patroni_config": PATRONI_CONFIG, "etcd_env": ETCD_ENV, "etcd_data_dir": etcd_data_dir(cluster),
            "post_bootstrap": POST_BOOTSTRAP, "harbor_sql": harbor_sql(cluster)}


def _values(cluster: Cluster, node: Node, bundle) -> dict:
    return {"patroni": own(cluster).database.patroni, **paths(cluster)}


# bootstrap.dcs holds the settings of the whole cluster: Patroni reads them from etcd, not from this file,
# once the cluster exists. The rest is this member's own: Patroni reads it again on a reload.
PATRONI_IMPACTS = (
    Impact(Action.EDIT_PATRONI_CONFIG, key="bootstrap.dcs.*"),
    Impact(Action.RELOAD_PATRONI),
)

ROWS = (
    Row("database/patroni.yml", "patroni/patroni.yml.j2", ("database",), "yaml", PATRONI_IMPACTS,
        _at(PATRONI_CONFIG, "postgres"), contexts=("yaml-single-quoted",), when=patroni_cluster, values=_values),
    Row("database/harbor-role.sql", "database/postgresql.sql.j2", ("database",), "sql", (Impact(Action.RUN_DATABASE_SQL),),
        Install(lambda cluster, node: harbor_sql(cluster), service_user="postgres"), contexts=("sql",), when=patroni_cluster),
    Row("database/post-bootstrap.sh", "scripts/patroni-post-bootstrap.sh", ("database",), "text", (Impact(Action.APPLY),),
        _at(POST_BOOTSTRAP), when=patroni_cluster),
    Row("etcd/etcd.env", "patroni/etcd.j2", ROLE_ORDER, "env", (Impact(Action.RESTART_ETCD),), _at(ETCD_ENV),
        when=_etcd_member, values=_values),
)


def bundle_values(cluster: Cluster, node: Node) -> dict:
    """What values.sh of a Patroni cluster's bundles holds: which services this machine runs, and how to ask them."""
    patroni = own(cluster).database.patroni
    if patroni is None:
        return {"patroni_values": None}
    settings = {"ttl": patroni.ttl, "loop_wait": patroni.loop_wait, "retry_timeout": patroni.retry_timeout,
                "synchronous_mode": "true" if patroni.synchronous_mode else "false"}
    return {"patroni_values": {
        "etcd_member": "true" if patroni.etcd_member(node) else "false",
        "patroni_config": PATRONI_CONFIG,
        "patroni_rest_api": patroni.rest_api(node),
        "patroni_settings": [f"{key}={value}" for key, value in settings.items()],
    }}


def plan_warnings(old: Cluster, new: Cluster) -> list[str]:
    """What the plan cannot order by itself: a new Patroni cluster starts empty, and members change one at a time."""
    before, after = own(old).database, own(new).database
    if after.patroni is None:
        return []
    members = ", ".join(node.name for node in after.nodes)
    if before.patroni is None:
        server = before.nodes[0]
        moved = (f"; {server.name} still answers on {server.address}, now the floating address: take it off {server.name} "
                 "before the members start" if server.address == after.address else "")
        return [f"the database becomes a Patroni cluster of {members}: Patroni makes a new, empty cluster and does not adopt "
                f"the data of {server.name}: stop Harbor on every node and pg_dump {before.name} on {server.name} first{moved}; "
                "on each member stop Debian's own 15/main (apply.sh refuses to start Patroni beside it); apply every etcd and "
                f"PostgreSQL member; then pg_restore into {after.address} as {after.user}, compare row counts, and only then start "
                "Harbor (RUNBOOK.md)"]
    added = [node.name for node in after.nodes if node not in before.nodes]
    removed = [node.name for node in before.nodes if node not in after.nodes]
    found = []
    if len(added) + len(removed) > 1:
        found.append(f"members change ({', '.join(['+' + name for name in added] + ['-' + name for name in removed])}): one at a "
                     "time: wait until patronictl list shows a new member streaming before the next, stop Patroni on a leaving one "
                     "before applying the others")
    if before.patroni.etcd != after.patroni.etcd:
        found.append("the etcd members change, but a running etcd keeps the members it has: its INITIAL_CLUSTER counts only "
                     "at a member's first start. Add or remove each with etcdctl member add or remove, one at a time, "
                     "keeping a majority (RUNBOOK.md), before applying the bundles")
    return found
