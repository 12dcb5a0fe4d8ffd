"""Cross-checks of Harbor 2.15 alone: the one Redis endpoint it is given and its databases there, and
the Patroni cluster of its PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

from ...documents import CrossCheck, Document, nodes_with
from ...errors import Diagnostic
from ...loader import Located


def redis_is_one_endpoint(document: Document, located: Located) -> Iterator[Diagnostic]:
    redis = document.get("redis")
    if redis is None:
        return
    given = [key for key in ("node", "nodes", "host") if key in redis]
    if len(given) > 1:
        yield located.diagnostic(("redis", given[1]), f"is set together with redis.{given[0]} (expected one of node, nodes and host: "
                                 "a node of the topology, a Sentinel set of them, or a host outside it)", of_key=True)
    elif not given and "sentinel" not in redis:
        yield located.diagnostic(("redis",), "names no Redis (expected redis.node, redis.nodes, redis.host, or redis.sentinel)", of_key=True)
    if "sentinel" in redis and "host" in redis:
        yield located.diagnostic(
            ("redis", "host"),
            "is set together with redis.sentinel (expected no host: with Sentinel, Harbor asks the sentinels where the master is)",
            of_key=True,
        )
    yield from _sentinels_of_the_set(redis, located)
    named = redis.get("nodes") or [redis.get("node")]
    if "nodes" in redis:
        said, expected = "redis.nodes does not name it", "on the nodes redis.nodes names"
    else:
        said = f"redis.node is {redis['node']!r}" if "node" in redis else "redis.node is not set"
        expected = "on the node redis.node names"
    for name in nodes_with(document, "redis"):
        if name not in named:
            yield located.diagnostic(
                ("nodes", name, "roles"),
                f"node {name!r} holds the 'redis' role, but {said} (expected the redis role {expected}, and only there)",
            )


def _sentinels_of_the_set(redis: Document, located: Located) -> Iterator[Diagnostic]:
    """The sentinels are the set's own nodes (redis.nodes), or ones outside the topology (sentinel.hosts)."""
    sentinel = redis.get("sentinel")
    if "nodes" in redis and sentinel is None:
        yield located.diagnostic(("redis",), "names a Sentinel set in redis.nodes but has no redis.sentinel (expected its master_set)", of_key=True)
    if sentinel is None:
        return
    if "nodes" in redis and "hosts" in sentinel:
        yield located.diagnostic(("redis", "sentinel", "hosts"), "is set together with redis.nodes (expected no hosts: each node of redis.nodes runs a sentinel)", of_key=True)
    if "nodes" not in redis and "hosts" not in sentinel:
        yield located.diagnostic(("redis", "sentinel"), "has no hosts (expected the sentinels' HOST:PORT addresses, or redis.nodes for a set harborgen renders)", of_key=True)
    if "nodes" not in redis:
        written = located.data.get("redis", {}).get("sentinel") or {}
        for key in ("port", "quorum", "down_after_milliseconds", "failover_timeout"):
            if key in written:
                yield located.diagnostic(("redis", "sentinel", key), "is set, but harborgen renders sentinels only for redis.nodes "
                                         "(expected it in the sentinels' own files, for sentinels outside the topology)", of_key=True)
    elif sentinel.get("quorum", 0) > len(redis["nodes"]):
        yield located.diagnostic(("redis", "sentinel", "quorum"), f"is {sentinel['quorum']}, more than the {len(redis['nodes'])} sentinels of redis.nodes "
                                 "(expected at most their number: no failover could ever start)")


def redis_cluster_is_refused(document: Document, located: Located) -> Iterator[Diagnostic]:
    if document.get("redis", {}).get("cluster"):
        yield located.diagnostic(
            ("redis", "cluster"),
            "is true, but Harbor does not support Redis Cluster (expected one Redis server, or Redis Sentinel with redis.sentinel)",
        )


def redis_indexes_are_distinct(document: Document, located: Located) -> Iterator[Diagnostic]:
    indexes = document.get("redis", {}).get("indexes")
    if not indexes:
        return
    written = located.data.get("redis", {}).get("indexes") or {}
    # Blame the index the operator wrote, not a default it collides with.
    users = sorted(indexes, key=lambda user: user not in written)
    seen: dict[int, str] = {}
    for user in reversed(users):
        index = indexes[user]
        if index in seen:
            default = "" if seen[index] in written else ", by default"
            yield located.diagnostic(
                ("redis", "indexes", user),
                f"database {index} is also the {seen[index]} database{default} (expected a database of its own: Harbor's services must not share one)",
            )
        seen.setdefault(index, user)


def patroni_runs_a_group(document: Document, located: Located) -> Iterator[Diagnostic]:
    """database.patroni describes how Patroni runs database.nodes: with one server there is none."""
    if "node" in document["database"] and "patroni" in located.data.get("database", {}):
        yield located.diagnostic(
            ("database", "patroni"),
            "is set with a single database node (expected database.nodes, two or more PostgreSQL members, for a Patroni cluster)",
            of_key=True,
        )


def etcd_members_are_nodes(document: Document, located: Located) -> Iterator[Diagnostic]:
    members = document["database"].get("patroni", {}).get("etcd", ())
    for index, name in enumerate(members):
        if name not in document["nodes"]:
            yield located.diagnostic(
                ("database", "patroni", "etcd", index),
                f"names {name!r}, which is not a node of the topology (expected a name from nodes: etcd runs on that machine)",
            )


def patroni_timers_fit_the_ttl(document: Document, located: Located) -> Iterator[Diagnostic]:
    """Patroni's own rule: a leader must be able to retry twice and wait a loop before its lock expires."""
    if "nodes" not in document["database"]:
        return
    patroni = document["database"]["patroni"]
    ttl, loop_wait, retry_timeout = patroni["ttl"], patroni["loop_wait"], patroni["retry_timeout"]
    if loop_wait + 2 * retry_timeout <= ttl:
        return
    written = located.data["database"].get("patroni") or {}
    # Blame a timer the operator wrote: the defaults alone fit.
    key = next(key for key in ("ttl", "loop_wait", "retry_timeout") if key in written)
    yield located.diagnostic(
        ("database", "patroni", key),
        f"ttl {ttl} s is shorter than loop_wait + 2 × retry_timeout ({loop_wait} + 2 × {retry_timeout} = {loop_wait + 2 * retry_timeout} s) "
        "(expected a longer ttl or shorter timers: Patroni refuses these, and a leader could lose its lock while it still retries)",
    )


CROSSCHECKS: tuple[CrossCheck, ...] = (
    redis_is_one_endpoint, redis_cluster_is_refused, redis_indexes_are_distinct,
    patroni_runs_a_group, etcd_members_are_nodes, patroni_timers_fit_the_ttl,
)
