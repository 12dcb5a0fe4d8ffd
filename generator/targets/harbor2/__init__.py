"""Harbor 2.15: one harbor.yml, prepare's secrets seeded and pinned, PostgreSQL and Redis, CephFS on data_volume."""

from __future__ import annotations

from typing import Any

from .. import Feature, Target
from . import artifacts
from .model import build


def _published_ports(document: dict[str, Any]) -> tuple[int, ...]:
    """Its own nginx publishes harbor.http_port alone (harborgen leaves https to the load balancer)."""
    return (document["harbor"]["http_port"],)


TARGET = Target(
    version="2.15",
    build=build,
    rows=artifacts.ROWS,
    cluster_files=artifacts.CLUSTER_FILES,
    features=frozenset({Feature.DATA_VOLUME, Feature.REDIS, Feature.POOLED_CONNECTIONS}),
    bundle_values=artifacts.bundle_values,
    published_ports=_published_ports,
    database_replication="replicate PostgreSQL (a primary and a streaming replica with failover, such as Patroni) behind one address",
)
