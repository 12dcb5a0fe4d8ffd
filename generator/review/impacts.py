"""What a changed file asks of the machine that holds it: the vocabulary of the plan.

Each row of the artifact catalogue names its impacts with these values; the
plan (generator/review/diff.py) only combines them, and the reports
(generator/review/report.py) alone turn them into sentences.
"""

from __future__ import annotations

import fnmatch
from dataclasses import KW_ONLY, dataclass
from enum import Enum, IntEnum


class Phase(IntEnum):
    """When a step runs in the plan: the database and Ceph first, the Harbor nodes one at a time, the balancer."""

    DATABASE = 0
    CEPH = 1
    HARBOR = 2
    BALANCER = 3


class Action(Enum):
    """One thing the operator runs on a machine. Its value is its name in the JSON report's vocabulary."""

    APPLY = "apply"
    RELOAD_SYSTEMD = "reload-systemd"
    RUN_DATABASE_SQL = "run-database-sql"
    REWRITE_HBA = "rewrite-pg-hba"
    RESTART_REDIS = "restart-redis"
    SET_SENTINEL = "set-sentinel"
    RESTART_DATABASE = "restart-database"
    RELOAD_PATRONI = "reload-patroni"
    EDIT_PATRONI_CONFIG = "edit-patroni-config"
    RESTART_ETCD = "restart-etcd"
    RELOAD_BALANCER = "reload-balancer"
    REPLACE_BALANCER = "replace-balancer"
    RELOAD_KEEPALIVED = "reload-keepalived"
    REINSTALL = "reinstall"
    REMOUNT = "remount"
    BOOTSTRAP_CEPH = "bootstrap-ceph"
    CREATE_CEPH_CLIENT = "create-ceph-client"
    CREATE_CEPH_DIRECTORIES = "create-ceph-directories"
    RETIRE = "retire"

    @property
    def phase(self) -> Phase:
        return _PHASES.get(self, Phase.HARBOR)

    @property
    def runs_apply(self) -> bool:
        """The action runs apply.sh itself: a plain APPLY beside it is redundant."""
        return self not in (Action.BOOTSTRAP_CEPH, Action.CREATE_CEPH_CLIENT, Action.CREATE_CEPH_DIRECTORIES, Action.RETIRE)

    @property
    def restarts_harbor(self) -> bool:
        return self in (Action.REINSTALL, Action.REMOUNT)


_PHASES = {
    Action.RUN_DATABASE_SQL: Phase.DATABASE,
    Action.REWRITE_HBA: Phase.DATABASE,
    Action.RESTART_REDIS: Phase.DATABASE,
    Action.SET_SENTINEL: Phase.DATABASE,
    Action.RESTART_DATABASE: Phase.DATABASE,
    Action.RELOAD_PATRONI: Phase.DATABASE,
    Action.EDIT_PATRONI_CONFIG: Phase.DATABASE,
    Action.RESTART_ETCD: Phase.DATABASE,
    Action.BOOTSTRAP_CEPH: Phase.CEPH,
    Action.CREATE_CEPH_CLIENT: Phase.CEPH,
    Action.CREATE_CEPH_DIRECTORIES: Phase.CEPH,
    Action.RELOAD_BALANCER: Phase.BALANCER,
    Action.REPLACE_BALANCER: Phase.BALANCER,
    Action.RELOAD_KEEPALIVED: Phase.BALANCER,
}


# The phase of the machines that hold only these roles.
_ROLE_PHASES = {"database": Phase.DATABASE, "redis": Phase.DATABASE, "load-balancer": Phase.BALANCER}


def machine_phase(roles: tuple[str, ...]) -> Phase:
    """When a machine's own apply runs: with the database, or the load balancers, when it holds only
    their roles; with the Harbor nodes otherwise."""
    if roles and all(role in _ROLE_PHASES for role in roles):
        return min(_ROLE_PHASES[role] for role in roles)
    return Phase.HARBOR


@dataclass(frozen=True)
class Impact:
    """What changing one key of one artifact asks of the machine that holds it."""

    action: Action
    _: KW_ONLY
    key: str = "*"  # glob on the changed key (a values.sh name, a harbor.yml path); '*' for any change
    cluster_wide: bool = False  # the nodes disagree until every one has restarted
    role: str | None = None  # only on a machine with this role; scanning goes on past it


def impacts_for(impacts: tuple[Impact, ...], key: str, roles: tuple[str, ...]) -> list[Impact]:
    """The impacts of one change on a machine with these roles: every matching one of a role the machine
    holds, up to and including the first one for any role."""
    found = []
    for impact in impacts:
        if fnmatch.fnmatchcase(key, impact.key) and (impact.role is None or impact.role in roles):
            found.append(impact)
            if impact.role is None:
                break
    return found
