"""Harbor 1.1.2: settings in harbor.cfg, MySQL, the installer's own templates laid over, logs on CephFS."""

from __future__ import annotations

from typing import Any

from .. import Feature, Target
from . import artifacts, crosscheck, lint
from .model import build

# Host ports Harbor 1.1.2's own nginx ("proxy" service) publishes on every Harbor node.
PUBLISHED_PORTS = (80, 443, 4443)


def _published_ports(document: dict[str, Any]) -> tuple[int, ...]:
    return PUBLISHED_PORTS


TARGET = Target(
    version="1.1.2",
    build=build,
    rows=artifacts.ROWS,
    cluster_files=artifacts.CLUSTER_FILES,
    features=frozenset({
        Feature.SETTINGS_IN_CONFIG,
        Feature.LOGS_ON_CEPHFS,
        Feature.RENDERED_COMPOSE,
        Feature.SESSIONS_IN_NODE_MEMORY,
        Feature.JOBS_RESET_ON_START,
    }),
    bundle_values=artifacts.bundle_values,
    published_ports=_published_ports,
    database_replication="name three MariaDB Galera members in database.nodes, with a virtual_address and vrrp: harborgen renders Galera and keepalived for them",
    crosschecks=crosscheck.CROSSCHECKS,
    lint_rules=lint.RULES,
)
