"""Harbor 2.15: one harbor.yml, prepare's secrets seeded and pinned, PostgreSQL and Redis, CephFS on data_volume."""

from __future__ import annotations

from typing import Any

from ...model import Cluster
from .. import Feature, Target
from . import artifacts, crosscheck, lint, patroni, sentinel
from .model import PATRONI_SECRETS, PINNED, Harbor2Cluster, build


def _published_ports(document: dict[str, Any]) -> tuple[int, ...]:
    """Its own nginx publishes harbor.http_port alone (harborgen leaves https to the load balancer)."""
    return (document["harbor"]["http_port"],)


def _registry_redis(cluster: Harbor2Cluster) -> tuple:
    """What the registry's Redis URL is made of (prepare builds it from harbor.yml)."""
    redis = cluster.redis
    master_set = redis.sentinel.master_set if redis.sentinel else None
    return redis.address, redis.registry_index, master_set, redis.password.name, redis.idle_timeout_seconds


def _plan_warnings(old: Cluster, new: Cluster) -> list[str]:
    if not isinstance(old, Harbor2Cluster) or not isinstance(new, Harbor2Cluster):
        return []
    found = patroni.plan_warnings(old, new) + sentinel.plan_warnings(old, new)
    if _registry_redis(old) != _registry_redis(new):
        found.append("the registry's Redis URL changes: a saved garbage-collection schedule keeps the old one in the database "
                     "(goharbor/harbor#17984): once every node runs the new one, save the GC schedule again in the UI")
    return found


TARGET = Target(
    version="2.15",
    build=build,
    rows=artifacts.ROWS,
    cluster_files=artifacts.CLUSTER_FILES,
    features=frozenset({Feature.DATA_VOLUME, Feature.REDIS, Feature.POOLED_CONNECTIONS}),
    bundle_values=artifacts.bundle_values,
    published_ports=_published_ports,
    database_replication="replicate PostgreSQL (a primary and a streaming replica with failover, such as Patroni) behind one address",
    crosschecks=crosscheck.CROSSCHECKS,
    lint_rules=lint.RULES,
    own_secrets=PINNED + PATRONI_SECRETS,
    plan_warnings=_plan_warnings,
)
