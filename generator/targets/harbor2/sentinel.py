"""A Redis Sentinel set for Harbor 2.15 (redis.nodes): each node runs a Redis server and a sentinel, and
Harbor asks the sentinels where the master is.

Sentinel rewrites its own file at every failover (the master now, the replicas and sentinels it knows):
a file installed again on every apply, or an include, would point a restarted sentinel back at the old
master. So sentinel.conf is a seed: apply.sh writes it once, naming the master the other sentinels name,
and gives a later change of the settings to the running sentinel with SENTINEL SET (set_up_sentinel).
"""

from __future__ import annotations

from ...artifacts.catalogue import Row, RunsFromBundle
from ...model import Cluster, Node
from ...review.impacts import Action, Impact
from .model import own

# Debian's redis-sentinel.service reads it, and may write it (ReadWriteDirectories=/etc/redis).
SENTINEL_CONF = "/etc/redis/sentinel.conf"


def sentinel_set(cluster: Cluster, node: Node) -> bool:
    return bool(own(cluster).redis.nodes)


def _values(cluster: Cluster, node: Node, bundle) -> dict:
    return {"sentinel": own(cluster).redis.sentinel, "sentinel_conf": SENTINEL_CONF}


ROWS = (
    Row("redis/sentinel.conf", "redis/sentinel.conf.j2", ("redis",), "text", (Impact(Action.SET_SENTINEL),),
        RunsFromBundle("apply.sh, which seeds the sentinel's file once and then uses SENTINEL SET"),
        contexts=("redis-conf",), when=sentinel_set, values=_values),
)


def bundle_values(cluster: Cluster, node: Node) -> dict:
    """What values.sh of a Sentinel set's Redis node holds: where its sentinel listens, its peers, and its settings."""
    redis = own(cluster).redis
    if not redis.nodes or not node.has("redis"):
        return {"sentinel_values": None}
    sentinel = redis.sentinel
    return {"sentinel_values": {
        "sentinel_conf": SENTINEL_CONF,
        "sentinel_master_set": sentinel.master_set,
        "sentinel_address": f"{node.address}:{sentinel.port}",
        "sentinel_peers": [f"{peer.address}:{sentinel.port}" for peer in redis.nodes if peer != node],
        "sentinel_settings": sentinel.settings,
    }}


def plan_warnings(old: Cluster, new: Cluster) -> list[str]:
    """What the plan cannot order: a running sentinel keeps the set it has, whatever a bundle says."""
    before, after = own(old).redis, own(new).redis
    if not after.nodes:
        return []
    if not before.nodes:
        return [f"Redis becomes a Sentinel set of {', '.join(node.name for node in after.nodes)}: each new node's Redis "
                f"starts empty; make each a replica of the master ({after.nodes[0].name} in a new set) with REPLICAOF once "
                "its Redis runs, then start its sentinel (RUNBOOK.md)"]
    kept = {node.name for node in before.nodes}
    joined = [node.name for node in after.nodes if node.name not in kept]
    removed = sorted(kept - {node.name for node in after.nodes})
    found = []
    if joined:
        found.append(f"{', '.join(joined)} join the Sentinel set {after.sentinel.master_set}: each one's Redis starts empty; "
                     "make it a replica of the master the sentinels name (SENTINEL get-master-addr-by-name) with REPLICAOF, "
                     "then start its sentinel, one node at a time (RUNBOOK.md)")
    if removed:
        found.append(f"{', '.join(removed)} leave the Sentinel set, but the other sentinels remember them: stop each one's "
                     f"sentinel and Redis, then SENTINEL RESET {after.sentinel.master_set} on every remaining sentinel, one at a time")
    return found
