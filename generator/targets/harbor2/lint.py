"""Lint rules of Harbor 2.15 alone: its Redis, and the connection pools of its services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...lint.rule import Finding, Rule
from .model import own

if TYPE_CHECKING:
    from ...pipeline import Checked

POOLS_PER_NODE = 2  # core's and jobservice's database pools, each of up to max_open_conns


def one_redis(checked: Checked) -> Iterator[Finding]:
    redis = own(checked.cluster).redis
    if redis.sentinel:
        return
    yield Finding(
        ("redis", "node" if redis.node else "host"), f"every Harbor node uses one Redis server, {redis.node or redis.address!r}, without Sentinel",
        "when it is down nobody stays logged in, the job queue stops (replication, scans, GC) and the registry loses its cache",
        "run Redis with replicas and Sentinel, and give redis.sentinel (master_set and the sentinels' addresses)",
    )


def connection_limit_below_the_pools(checked: Checked) -> Iterator[Finding]:
    database, nodes = own(checked.cluster).database, len(checked.cluster.harbor_nodes)
    if database.connection_limit < 0:
        return
    wanted = nodes * POOLS_PER_NODE * database.max_open_conns
    if database.connection_limit < wanted:
        yield Finding(
            ("database", "connection_limit"),
            f"the Harbor role may hold {database.connection_limit} connections, but {nodes} nodes × {POOLS_PER_NODE} pools × max_open_conns {database.max_open_conns} may open {wanted}",
            "under load a node's core or jobservice is refused connections ('too many connections for role') and its requests fail",
            f"raise connection_limit to {wanted} or more, or lower max_open_conns",
        )


RULES: tuple[Rule, ...] = (
    Rule("HG107", "error", "one Redis without Sentinel",
         "Harbor 2.x keeps sessions, the job queue and schedules in Redis: one server is a single point of failure", one_redis),
    Rule("HG307", "warning", "the Harbor role's connection limit is below what its pools may open",
         "each Harbor 2.x node opens a core and a jobservice pool of up to max_open_conns connections", connection_limit_below_the_pools),
)
