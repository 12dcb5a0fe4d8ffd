"""The lint rules of every target: single points of failure, security and operations the targets share."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

from ..documents import secret_references
from ..formats import is_ipv4
from ..loader import dotted
from ..pipeline import Checked
from ..targets import target_of
from .rule import Finding, Rule

# Thresholds, each with where it comes from.
# Ceph's placement-group guidance: about 100 PGs per OSD (mon_target_pg_per_osd),
# three replicas, and pg_autoscaler flags a pool whose pg_num is more than a
# factor 3 from its target (its default threshold).
TARGET_PGS_PER_OSD = 100
REPLICAS = 3
PG_TOLERANCE = 3.0
# CephFS keeps its metadata pool far smaller than the data pool; a quarter of
# the data pool's PGs is the usual starting point.
METADATA_SHARE = 0.25
MIN_HARBOR_NODES = 2
MIN_MONITORS = 3  # a majority survives the loss of one only from three on
MIN_MDS = 2  # one active and one standby


# --- single points of failure --------------------------------------------------------

def _harbor_nodes(checked: Checked) -> list[str]:
    return [node.name for node in checked.cluster.harbor_nodes]


def fewer_than_two_harbor_nodes(checked: Checked) -> Iterator[Finding]:
    names = _harbor_nodes(checked)
    if len(names) < MIN_HARBOR_NODES:
        yield Finding(
            ("nodes", names[0], "roles"), f"{names[0]!r} is the only Harbor node",
            "when it stops, for a failure or an upgrade, the registry stops",
            "give the harbor role to a second machine",
        )


def one_load_balancer(checked: Checked) -> Iterator[Finding]:
    balancer = checked.cluster.load_balancer
    if balancer.vrrp:
        return  # a pair on a floating address
    yield Finding(
        ("load_balancer", "node"), f"every client goes through one load balancer, {balancer.node!r}",
        "when it is down the registry is unreachable, however many Harbor nodes run",
        "name a second one in load_balancer.nodes, with a virtual_address and vrrp: harborgen renders keepalived for the pair",
    )


def one_database(checked: Checked) -> Iterator[Finding]:
    database = checked.cluster.database
    if database.vrrp:
        return  # a replicated database behind a floating address
    yield Finding(
        ("database", "node"), f"every Harbor node uses one database server, {database.node!r}",
        "when it is down no node can log anyone in or serve a manifest",
        target_of(checked.cluster).database_replication,
    )


def _host(monitor: str) -> str:
    return monitor.rpartition(":")[0]


def fewer_than_three_monitors(checked: Checked) -> Iterator[Finding]:
    hosts = {_host(monitor) for monitor in checked.cluster.cephfs.monitors}
    if len(hosts) < MIN_MONITORS:
        yield Finding(
            ("cephfs", "monitors"), f"{len(hosts)} Ceph monitor host(s)",
            "monitors need a majority: with fewer than three, losing one stops CephFS and every Harbor node with it",
            "run three (or five) monitors on separate hosts and list them all",
        )


def fewer_than_two_mds(checked: Checked) -> Iterator[Finding]:
    mds = set(checked.cluster.cephfs.mds)
    if len(mds) < MIN_MDS:
        yield Finding(
            ("cephfs", "mds"), f"{len(mds)} metadata server(s)",
            "without a standby MDS, CephFS hangs until the active one comes back",
            "list a second node under cephfs.mds (one active, one standby)",
        )


def infrastructure_on_a_harbor_node(checked: Checked) -> Iterator[Finding]:
    cluster = checked.cluster
    harbor = {node.name: node for node in cluster.harbor_nodes}
    for role, section in cluster.services():
        if section in harbor:
            yield Finding(
                ("nodes", section, "roles"), f"the {role} runs on Harbor node {section!r}",
                f"one machine failing takes a Harbor node and the {role} at once",
                f"move the {role} to a machine of its own",
            )
    by_address = {node.address: node.name for node in harbor.values()}
    for index, monitor in enumerate(cluster.cephfs.monitors):
        if _host(monitor) in by_address:
            yield Finding(
                ("cephfs", "monitors", index), f"monitor {monitor} runs on Harbor node {by_address[_host(monitor)]!r}",
                "one machine failing takes a Harbor node and a monitor of the storage every node needs",
                "run the monitors on machines that hold no Harbor node",
            )


# --- security -----------------------------------------------------------------------

def admin_cephx_client(checked: Checked) -> Iterator[Finding]:
    if checked.cluster.cephfs.uses_admin_client:
        yield Finding(
            ("cephfs", "client"), "the Harbor nodes mount CephFS as client.admin",
            "its key, on every Harbor node, can do anything on the whole Ceph cluster",
            "set cephfs.client to a dedicated client; bootstrap-cephfs.sh creates it limited to the Harbor directory",
        )


def plain_http(checked: Checked) -> Iterator[Finding]:
    if checked.cluster.harbor.scheme == "http":
        yield Finding(
            ("harbor", "external_url"), "clients reach the registry over plain http",
            "passwords and tokens cross the network in the clear, and every Docker client must list the registry in insecure-registries",
            "use an https external_url with load_balancer.tls",
        )


def secret_used_twice(checked: Checked) -> Iterator[Finding]:
    uses: dict[str, list[tuple]] = defaultdict(list)
    for path, name in secret_references(checked.located.data):
        uses[name].append(path)
    for name, paths in sorted(uses.items()):
        for path in paths[1:]:
            yield Finding(
                (*path, "secret"), f"secret {name!r} is also {dotted(paths[0])}",
                "one leak exposes both, and one cannot be rotated without the other",
                "give each purpose a secret name of its own",
            )


# --- operations -----------------------------------------------------------------------

def ip_hash_behind_nat(checked: Checked) -> Iterator[Finding]:
    if checked.cluster.load_balancer.stickiness == "ip_hash":
        yield Finding(
            ("load_balancer", "stickiness"), "clients are kept on a node by ip_hash",
            "ip_hash keys on the first three octets of the client address: clients behind one NAT or in one /24 all land on one node",
            "if many clients share addresses, use stickiness: hash_remote_addr",
        )


def a_name_for_the_floating_address(checked: Checked) -> Iterator[Finding]:
    balancer = checked.cluster.load_balancer
    if balancer.vrrp and not is_ipv4(balancer.server_name):
        yield Finding(
            ("load_balancer", "server_name"), f"clients reach the pair by the name {balancer.server_name!r}",
            "only the floating address moves: a name that resolves to a node's own address, or to every node, bypasses the failover",
            f"make sure {balancer.server_name!r} resolves to {balancer.vrrp.virtual_address} alone, for every client and Harbor node",
        )


def _pg_target(checked: Checked) -> int:
    """What Ceph's guidance suggests for the data pool, from the hosts the topology shows Ceph on."""
    cluster = checked.cluster
    addresses = {node.name: node.address for node in cluster.nodes}
    hosts = {_host(monitor) for monitor in cluster.cephfs.monitors} | {addresses[name] for name in cluster.cephfs.mds}
    return max(1, 2 ** round(math.log2(len(hosts) * TARGET_PGS_PER_OSD / REPLICAS)))


def pg_num_far_from_guidance(checked: Checked) -> Iterator[Finding]:
    cephfs, data_target = checked.cluster.cephfs, _pg_target(checked)
    for key, pool, target in (("data_pool", cephfs.data_pool, data_target),
                              ("metadata_pool", cephfs.metadata_pool, max(1, int(data_target * METADATA_SHARE)))):
        if pool.pg_num > target * PG_TOLERANCE or pool.pg_num * PG_TOLERANCE < target:
            yield Finding(
                ("cephfs", key, "pg_num"), f"pool {pool.name!r} has {pool.pg_num} placement groups where about {target} are suggested",
                "too few PGs spread data unevenly over the OSDs; too many cost memory and peering time on every OSD",
                f"use pg_num: {target} (about {TARGET_PGS_PER_OSD} PGs per OSD, {REPLICAS} replicas, for the Ceph hosts this topology names)",
            )


def no_ceph_admin_node(checked: Checked) -> Iterator[Finding]:
    if not any(node.has("ceph-admin") for node in checked.cluster.nodes):
        yield Finding(
            ("nodes",), "no node has the ceph-admin role",
            "the CephFS, its pools and its client are made outside harborgen, and nothing checks their caps",
            "give the ceph-admin role to the node you administer Ceph from",
        )


# --- the accept list ------------------------------------------------------------------
# These two are about lint.accept itself: run_lint applies them, after every other rule.

def _never(checked: Checked) -> Iterator[Finding]:
    return iter(())


SHARED_RULES: tuple[Rule, ...] = (
    Rule("HG000", "warning", "an accepted rule does not fire",
         "an accept entry that matches nothing hides nothing today, but would silence a future finding unseen", _never),
    Rule("HG001", "warning", "an accepted rule does not exist",
         "a mistyped rule id accepts nothing, and the finding it meant stays", _never),
    Rule("HG101", "error", "fewer than two Harbor nodes",
         "one Harbor node is no cluster: its failure or upgrade stops the registry", fewer_than_two_harbor_nodes),
    Rule("HG102", "error", "one load balancer",
         "every client request passes the load balancer", one_load_balancer),
    Rule("HG103", "error", "one database server",
         "every Harbor node reads and writes the one external database", one_database),
    Rule("HG104", "error", "fewer than three Ceph monitors",
         "Ceph monitors need a majority; only three or more survive the loss of one", fewer_than_three_monitors),
    Rule("HG105", "warning", "fewer than two metadata servers",
         "CephFS needs an active MDS; a standby takes over in seconds", fewer_than_two_mds),
    Rule("HG106", "warning", "the load balancer, the database or a monitor on a Harbor node",
         "two roles on one machine fail together", infrastructure_on_a_harbor_node),
    Rule("HG201", "error", "client.admin as the CephFS client",
         "client.admin's key can do anything on Ceph, and every Harbor node holds it", admin_cephx_client),
    Rule("HG202", "warning", "external_url over plain http",
         "credentials in the clear, and insecure-registries on every Docker client", plain_http),
    Rule("HG203", "error", "one secret name used for two purposes",
         "a shared secret leaks and rotates as one", secret_used_twice),
    Rule("HG301", "info", "ip_hash stickiness",
         "ip_hash sends every client of one /24 or one NAT to the same node", ip_hash_behind_nat),
    Rule("HG302", "warning", "pg_num far from Ceph's guidance",
         "placement groups a factor 3 off their target are what pg_autoscaler warns about", pg_num_far_from_guidance),
    Rule("HG305", "info", "no ceph-admin node",
         "harborgen then neither creates nor checks the CephFS and its client", no_ceph_admin_node),
    Rule("HG308", "info", "a name for the floating address",
         "harborgen cannot see DNS: the name must resolve to virtual_address, or clients miss the failover", a_name_for_the_floating_address),
)
