"""Lint rules of Harbor 2.15 alone: its Redis, the connection pools of its services, and the Patroni
cluster of its PostgreSQL."""

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


def sentinels_without_a_majority_after_one_loss(checked: Checked) -> Iterator[Finding]:
    redis = own(checked.cluster).redis
    sentinel = redis.sentinel
    if sentinel is None:
        return
    count = len(sentinel.hosts)
    if count < 3:
        yield Finding(
            ("redis", "nodes") if redis.nodes else ("redis", "sentinel", "hosts"), f"Redis has {count} sentinel(s): {', '.join(sentinel.hosts)}",
            "a failover needs a majority of the sentinels to elect a leader: after the loss of one there is none, "
            "and a dead master is never replaced",
            "run three sentinels (or five), on machines that fail apart" + ("" if redis.nodes else ", and list them all in redis.sentinel.hosts"),
        )
    elif redis.nodes and sentinel.quorum > count - 1:
        yield Finding(
            ("redis", "sentinel", "quorum"), f"quorum {sentinel.quorum} of {count} sentinels",
            "after the loss of one machine, fewer sentinels remain than the quorum: none can call the master down, "
            "and a dead master is never replaced",
            f"leave quorum at its default, a majority ({count // 2 + 1})",
        )


def etcd_without_a_majority_after_one_loss(checked: Checked) -> Iterator[Finding]:
    patroni = own(checked.cluster).database.patroni
    if patroni is None or len(patroni.etcd) >= 3:
        return
    names = ", ".join(repr(member.name) for member in patroni.etcd)
    yield Finding(
        ("database", "patroni", "etcd"), f"etcd, which holds Patroni's leader lock, has {len(patroni.etcd)} member(s): {names}",
        "etcd answers only with a majority of its members: after the loss of one there is none, the leader cannot renew its lock "
        "and steps down, and PostgreSQL takes no writes until the member is back",
        "name three etcd members in database.patroni.etcd (two PostgreSQL nodes need a third etcd on another machine)",
    )


def asynchronous_replication(checked: Checked) -> Iterator[Finding]:
    patroni = own(checked.cluster).database.patroni
    if patroni is None or patroni.synchronous_mode:
        return
    yield Finding(
        ("database", "patroni", "synchronous_mode"), "the Patroni cluster replicates asynchronously",
        "a commit acknowledged to Harbor just before the leader fails may be missing on the replica that takes over: "
        "a pushed image's metadata can be lost while its blobs stay on CephFS",
        "leave synchronous_mode at its default, true",
    )


RULES: tuple[Rule, ...] = (
    Rule("HG107", "error", "one Redis without Sentinel",
         "Harbor 2.x keeps sessions, the job queue and schedules in Redis: one server is a single point of failure", one_redis),
    Rule("HG307", "warning", "the Harbor role's connection limit is below what its pools may open",
         "each Harbor 2.x node opens a core and a jobservice pool of up to max_open_conns connections", connection_limit_below_the_pools),
    Rule("HG110", "error", "an etcd without a majority after the loss of one member",
         "Patroni keeps its leader lock in etcd, which answers only with a majority of its members", etcd_without_a_majority_after_one_loss),
    Rule("HG111", "warning", "asynchronous PostgreSQL replication",
         "with synchronous_mode false, commits acknowledged just before a failover can be lost", asynchronous_replication),
    Rule("HG112", "error", "fewer than three Redis sentinels",
         "Sentinel fails a master over only with a majority of its sentinels", sentinels_without_a_majority_after_one_loss),
)
