"""`harborgen lint`: the single points of failure and weak spots of a valid cluster, named before they bite.

`validate` answers whether a topology can be compiled; the rules here ask
whether the cluster it describes is highly available and safe. Each rule is
one small function, registered once in RULES with its id, severity, title and
rationale. Findings carry the position of the value concerned, and a team can
accept one in the topology (`lint.accept`) with a reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .crosscheck import secret_references
from .loader import dotted
from .pipeline import Checked
from .targets import Feature, target_of

SEVERITIES = ("error", "warning", "info")

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
# MySQL's and MariaDB's default max_connections is 151. Every running job
# worker holds a connection beside the pools of each node's ui, adminserver and
# jobservice: keep all workers of the cluster to about a third of it.
MAX_CLUSTER_JOB_WORKERS = 50
MIN_HARBOR_NODES = 2
MIN_MONITORS = 3  # a majority survives the loss of one only from three on
MIN_MDS = 2  # one active and one standby
POOLS_PER_HARBOR2_NODE = 2  # core's and jobservice's database pools, each of up to max_open_conns


@dataclass(frozen=True)
class Finding:
    path: tuple
    what: str
    why: str
    fix: str


Check = Callable[[Checked], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    rationale: str
    check: Check


@dataclass(frozen=True)
class Result:
    """A finding of one rule, located, and accepted or not."""

    file: str
    line: int
    column: int
    rule: Rule
    finding: Finding
    accepted_because: str | None = None

    @property
    def severity(self) -> str:
        return "accepted" if self.accepted_because is not None else self.rule.severity

    @property
    def path(self) -> str:
        return dotted(self.finding.path)

    @property
    def message(self) -> str:
        text = f"{self.finding.what} — {self.finding.why} — {self.finding.fix}"
        return text + (f" (accepted: {self.accepted_because})" if self.accepted_because is not None else "")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity} {self.rule.id} {self.path}: {self.message}"


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
    yield Finding(
        ("load_balancer", "node"), f"every client goes through one load balancer, {balancer.node!r}",
        "when it is down the registry is unreachable, however many Harbor nodes run",
        "run a second nginx with the same default.conf and move a floating address between them (keepalived/VRRP)",
    )


def one_database(checked: Checked) -> Iterator[Finding]:
    database = checked.cluster.database
    yield Finding(
        ("database", "node"), f"every Harbor node uses one database server, {database.node!r}",
        "when it is down no node can log anyone in or serve a manifest",
        target_of(checked.cluster).database_replication,
    )


def one_redis(checked: Checked) -> Iterator[Finding]:
    redis = checked.cluster.redis
    if redis is None or redis.sentinel:
        return
    yield Finding(
        ("redis", "node" if redis.node else "host"), f"every Harbor node uses one Redis server, {redis.node or redis.address!r}, without Sentinel",
        "when it is down nobody stays logged in, the job queue stops (replication, scans, GC) and the registry loses its cache",
        "run Redis with replicas and Sentinel, and give redis.sentinel (master_set and the sentinels' addresses)",
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
    services = [("load balancer", cluster.load_balancer.node), ("database", cluster.database.node)]
    if cluster.redis and cluster.redis.node:
        services.append(("Redis", cluster.redis.node))
    for role, section in services:
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


def remote_certificates_unchecked(checked: Checked) -> Iterator[Finding]:
    if not target_of(checked.cluster).has(Feature.SETTINGS_IN_CONFIG):
        return  # Harbor 2.x sets it per registry endpoint, in the UI
    if not checked.cluster.harbor.verify_remote_cert:
        yield Finding(
            ("harbor", "verify_remote_cert"), "replication does not verify the certificates of remote registries",
            "anyone between the registries can read and change what is replicated",
            "set verify_remote_cert: true and give the remote registries certificates the nodes trust",
        )


def open_self_registration(checked: Checked) -> Iterator[Finding]:
    harbor = checked.cluster.harbor
    if not target_of(checked.cluster).has(Feature.SETTINGS_IN_CONFIG):
        return  # Harbor 2.x keeps it in its database, set in the UI
    if harbor.self_registration and harbor.auth_mode == "db_auth":
        yield Finding(
            ("harbor", "self_registration"), "anyone who reaches the registry can create an account",
            "every such account may pull public projects and, with project_creation_restriction: everyone, create projects",
            "set self_registration: false and create accounts as an administrator",
        )


# --- operations -----------------------------------------------------------------------

def ip_hash_behind_nat(checked: Checked) -> Iterator[Finding]:
    if checked.cluster.load_balancer.stickiness == "ip_hash":
        yield Finding(
            ("load_balancer", "stickiness"), "clients are kept on a node by ip_hash",
            "ip_hash keys on the first three octets of the client address: clients behind one NAT or in one /24 all land on one node",
            "if many clients share addresses, use stickiness: hash_remote_addr",
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


def too_many_job_workers(checked: Checked) -> Iterator[Finding]:
    harbor, nodes = checked.cluster.harbor, len(checked.cluster.harbor_nodes)
    if target_of(checked.cluster).has(Feature.POOLED_CONNECTIONS):
        return  # the pools are bounded by max_open_conns: see HG307
    if harbor.max_job_workers * nodes > MAX_CLUSTER_JOB_WORKERS:
        yield Finding(
            ("harbor", "max_job_workers"), f"{harbor.max_job_workers} workers on each of {nodes} nodes: {harbor.max_job_workers * nodes} replication jobs at once",
            "each running job holds a database connection: together they can exhaust MySQL's default 151",
            f"keep max_job_workers × Harbor nodes at {MAX_CLUSTER_JOB_WORKERS} or less, or raise max_connections on the database",
        )


def token_outlived_by_a_push(checked: Checked) -> Iterator[Finding]:
    if not target_of(checked.cluster).has(Feature.SETTINGS_IN_CONFIG):
        return  # Harbor 2.x sets the token lifetime in the UI (its default, 30 min, refreshes during a push)
    minutes, timeout = checked.cluster.harbor.token_expiration, checked.cluster.load_balancer.timeout
    if minutes * 60 < timeout:
        yield Finding(
            ("harbor", "token_expiration"), f"a token lasts {minutes} min, but a layer may take {timeout} s through the load balancer",
            "a slow push of a large layer outlives its token and fails with 401 at the end",
            f"set token_expiration to at least {math.ceil(timeout / 60)} minutes",
        )


def no_ceph_admin_node(checked: Checked) -> Iterator[Finding]:
    if not any(node.has("ceph-admin") for node in checked.cluster.nodes):
        yield Finding(
            ("nodes",), "no node has the ceph-admin role",
            "the CephFS, its pools and its client are made outside harborgen, and nothing checks their caps",
            "give the ceph-admin role to the node you administer Ceph from",
        )


def connection_limit_below_the_pools(checked: Checked) -> Iterator[Finding]:
    database, nodes = checked.cluster.database, len(checked.cluster.harbor_nodes)
    if not target_of(checked.cluster).has(Feature.POOLED_CONNECTIONS) or database.connection_limit < 0:
        return
    wanted = nodes * POOLS_PER_HARBOR2_NODE * database.max_open_conns
    if database.connection_limit < wanted:
        yield Finding(
            ("database", "connection_limit"),
            f"the Harbor role may hold {database.connection_limit} connections, but {nodes} nodes × {POOLS_PER_HARBOR2_NODE} pools × max_open_conns {database.max_open_conns} may open {wanted}",
            "under load a node's core or jobservice is refused connections ('too many connections for role') and its requests fail",
            f"raise connection_limit to {wanted} or more, or lower max_open_conns",
        )


def selinux_relabel_on_cephfs(checked: Checked) -> Iterator[Finding]:
    if not target_of(checked.cluster).has(Feature.RENDERED_COMPOSE):
        return  # the stock 2.x compose file relabels its volumes: harborgen leaves it as it is
    if checked.cluster.cephfs.selinux_relabel:
        yield Finding(
            ("cephfs", "selinux_relabel"), "CephFS volumes keep the ':z' relabel suffix",
            "on SELinux-enforcing hosts relabelling a network file system can fail with 'operation not supported'",
            "on such hosts set cephfs.selinux_relabel: false",
        )


# --- the accept list ------------------------------------------------------------------
# These two are about lint.accept itself: run_lint applies them, after every other rule.

def _never(checked: Checked) -> Iterator[Finding]:
    return iter(())


RULES: tuple[Rule, ...] = (
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
    Rule("HG107", "error", "one Redis without Sentinel",
         "Harbor 2.x keeps sessions, the job queue and schedules in Redis: one server is a single point of failure", one_redis),
    Rule("HG201", "error", "client.admin as the CephFS client",
         "client.admin's key can do anything on Ceph, and every Harbor node holds it", admin_cephx_client),
    Rule("HG202", "warning", "external_url over plain http",
         "credentials in the clear, and insecure-registries on every Docker client", plain_http),
    Rule("HG203", "error", "one secret name used for two purposes",
         "a shared secret leaks and rotates as one", secret_used_twice),
    Rule("HG204", "warning", "verify_remote_cert is false",
         "replication then trusts any certificate", remote_certificates_unchecked),
    Rule("HG205", "warning", "self-registration open with db_auth",
         "anyone who reaches the registry gets an account", open_self_registration),
    Rule("HG301", "info", "ip_hash stickiness",
         "ip_hash sends every client of one /24 or one NAT to the same node", ip_hash_behind_nat),
    Rule("HG302", "warning", "pg_num far from Ceph's guidance",
         "placement groups a factor 3 off their target are what pg_autoscaler warns about", pg_num_far_from_guidance),
    Rule("HG303", "warning", "more job workers than one database comfortably serves",
         "each running replication job holds a database connection", too_many_job_workers),
    Rule("HG304", "warning", "token_expiration shorter than a push may take",
         "a token that expires mid-push fails the push", token_outlived_by_a_push),
    Rule("HG305", "info", "no ceph-admin node",
         "harborgen then neither creates nor checks the CephFS and its client", no_ceph_admin_node),
    Rule("HG306", "info", "':z' relabel on CephFS volumes",
         "relabelling a network file system can fail on SELinux-enforcing hosts", selinux_relabel_on_cephfs),
    Rule("HG307", "warning", "the Harbor role's connection limit is below what its pools may open",
         "each Harbor 2.x node opens a core and a jobservice pool of up to max_open_conns connections", connection_limit_below_the_pools),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


def run_lint(checked: Checked) -> list[Result]:
    """Every finding of every rule, located, with the topology's accept list applied, sorted by position."""
    accepted = {entry["rule"]: (index, entry["reason"]) for index, entry in enumerate(checked.document.get("lint", {}).get("accept", []))}
    results, fired = [], set()
    for rule in RULES:
        for finding in rule.check(checked):
            fired.add(rule.id)
            reason = accepted[rule.id][1] if rule.id in accepted else None
            results.append(_located(checked, rule, finding, reason))
    for rule_id, (index, _) in accepted.items():
        path = ("lint", "accept", index, "rule")
        if rule_id not in RULES_BY_ID:
            finding = Finding(path, f"{rule_id} is no rule of harborgen lint", "this entry accepts nothing",
                              "correct the id (harborgen lint --list-rules) or remove the entry")
            results.append(_located(checked, RULES_BY_ID["HG001"], finding, None))
        elif rule_id not in fired:
            finding = Finding(path, f"{rule_id} ({RULES_BY_ID[rule_id].title}) does not fire on this topology",
                              "the entry would silence a later finding of that rule without review", "remove the entry")
            results.append(_located(checked, RULES_BY_ID["HG000"], finding, None))
    return sorted(results, key=lambda result: (result.line, result.column, result.rule.id))


def _located(checked: Checked, rule: Rule, finding: Finding, reason: str | None) -> Result:
    line, column = checked.located.position(finding.path)
    return Result(checked.located.file, line, column, rule, finding, reason)


def counts(results: list[Result]) -> dict[str, int]:
    tally = {severity: 0 for severity in (*SEVERITIES, "accepted")}
    for result in results:
        tally[result.severity] += 1
    return tally
