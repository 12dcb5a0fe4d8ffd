"""The Harbor versions harborgen compiles for: one package each, found by the topology's harbor.version.

A target holds what is its own: how the model of its clusters is built, its
artifact rows and cluster files, its cross-checks, lint rules and managed
secrets, the warnings of its plans, and the features the stages ask about. The
stages never ask "which version is this?", only "does this target have X?"
(``target.has(Feature.REDIS)``). A new version is one package here, one line
of REGISTERED, and a branch of the schema's harbor-version.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any

from ..artifacts import apply, ceph, harbor_node, keepalived, nginx
from ..artifacts.catalogue import Catalogue, ClusterFile, Row
from ..documents import CrossCheck
from ..errors import RenderError
from ..lint.rule import Rule
from ..model import Cluster, Node
from ..secrets import managed
from ..secrets.managed import ManagedSecret


class Feature(Enum):
    """What a Harbor version does that a stage must know of."""

    SETTINGS_IN_CONFIG = "settings-in-config"  # auth, LDAP, self-registration, token lifetime, remote certificates live in its config file (else in the UI)
    LOGS_ON_CEPHFS = "logs-on-cephfs"  # every node's logs go to a directory of its own on CephFS (nodes.*.log_dir)
    RENDERED_COMPOSE = "rendered-compose"  # harborgen writes the compose file, volumes and their SELinux suffix included
    DATA_VOLUME = "data-volume"  # a local data_volume, CephFS mounted on its shared directories, secrets seeded there
    REDIS = "redis"  # sessions, the job queue and the registry's cache are in Redis
    POOLED_CONNECTIONS = "pooled-connections"  # every service holds a bounded pool of database connections
    SESSIONS_IN_NODE_MEMORY = "sessions-in-node-memory"  # a UI session lives in the memory of the node that made it
    JOBS_RESET_ON_START = "jobs-reset-on-start"  # a starting jobservice sets every running job of the cluster back to pending


# Every target's bundles hold these rows: the CephFS mount and bootstrap, the load balancer, the Harbor node's
# docker drop-in. apply.sh, values.sh and the install list come after a target's own rows, since they read them.
SHARED_ROWS: tuple[Row, ...] = ceph.MOUNT_ROWS + ceph.ADMIN_ROWS + nginx.ROWS + keepalived.ROWS + harbor_node.ROWS


@dataclass(frozen=True)
class Target:
    version: str  # as the topology's harbor.version spells it
    build: Callable[[dict[str, Any]], Cluster]  # the model of a document validate accepted
    rows: tuple[Row, ...]  # the target's own files
    cluster_files: tuple[ClusterFile, ...]
    features: frozenset[Feature]
    bundle_values: Callable[[Cluster, Node], dict[str, Any]]  # what values.sh holds beyond the shared names
    published_ports: Callable[[dict[str, Any]], tuple[int, ...]]  # host ports its own proxy takes on a Harbor node
    database_replication: str  # how to take the database's single point of failure away (lint's advice)
    crosschecks: tuple[CrossCheck, ...] = ()  # run after every target's (crosscheck.SHARED)
    lint_rules: tuple[Rule, ...] = ()  # run beside every target's (lint.shared.SHARED_RULES)
    own_secrets: tuple[ManagedSecret, ...] = ()  # what it makes beside every target's (managed.SHARED)
    plan_warnings: Callable[[Cluster, Cluster], list[str]] = lambda old, new: []  # what a plan from OLD to NEW must say

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    @property
    def managed_secrets(self) -> tuple[ManagedSecret, ...]:
        return managed.SHARED + self.own_secrets

    @cached_property
    def catalogue(self) -> Catalogue:
        """Built once per target; building checks every row."""
        return Catalogue(SHARED_ROWS + self.rows + apply.ROWS, self.cluster_files)


# One line per target: the module whose TARGET it is.
REGISTERED = ("generator.targets.harbor1", "generator.targets.harbor2")


def load(modules: Iterable[str]) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for name in modules:
        target: Target = importlib.import_module(name).TARGET
        target.catalogue  # noqa: B018 - a row that leaves something out fails here, at import
        targets[target.version] = target
    return targets


TARGETS = load(REGISTERED)


def target_for_version(version: str) -> Target:
    try:
        return TARGETS[version]
    except KeyError:
        # validate's schema admits only these versions: a new one without its package is harborgen's own mistake
        raise RenderError(f"harbor.version {version!r} has no target (harborgen compiles for {', '.join(TARGETS)})") from None


def target_of(cluster: Cluster) -> Target:
    return target_for_version(cluster.harbor.version)


def versions_with(feature: Feature) -> list[str]:
    """The versions that have FEATURE, for messages that name them."""
    return [version for version, target in TARGETS.items() if target.has(feature)]


def build_cluster(document: dict[str, Any]) -> Cluster:
    """Stage 3: the plan of a document that ``validate`` accepted (defaults filled in)."""
    return target_for_version(document["harbor"]["version"]).build(document)
