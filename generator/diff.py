"""`harborgen diff BASE NEW`: what a topology change does to every bundle, and what applying it costs.

Both revisions are compiled in memory. Changes are told in each artifact's own
terms (generator/semantic.py), identical changes on several nodes once with
the list of nodes, and never a manifest or a secret value: placeholders stay
placeholders. The impact plan comes from one table, IMPACTS: which artifact
changing on which kind of machine asks for what to run, whether Harbor
restarts there, and whether the change is cluster-wide.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import KW_ONLY, dataclass, field
from enum import IntEnum

from .bundle import MANIFEST, Tree, split_bundles
from .model import Cluster
from .semantic import describe, unified

CLUSTER = "(cluster)"


class Phase(IntEnum):
    """When a step runs in the plan: the database and Ceph first, the Harbor nodes one at a time, the balancer."""

    DATABASE = 0
    CEPH = 1
    HARBOR = 2
    BALANCER = 3


DATABASE, CEPH, HARBOR, BALANCER = Phase  # short names for the rows of IMPACTS


@dataclass(frozen=True)
class Change:
    """One change of one file, the same on every node listed."""

    nodes: tuple[str, ...]
    artifact: str
    kind: str
    detail: str


@dataclass(frozen=True)
class FileDiff:
    nodes: tuple[str, ...]
    artifact: str
    lines: tuple[str, ...]  # the unified diff of the first node, for the folded view


@dataclass(frozen=True)
class Impact:
    """What one changed artifact asks of the machine that holds it."""

    pattern: str  # glob on the path inside a bundle; rows of a KEYED file name a key after '#'
    step: str
    _: KW_ONLY
    restarts_harbor: bool = False
    cluster_wide: bool = False  # the nodes disagree until every one has restarted
    remount: bool = False
    phase: Phase = HARBOR
    role: str | None = None  # a row for one role only; scanning goes on past it


REMOUNT = "stop Harbor, unmount CephFS, apply.sh, then install-harbor.sh"
REINSTALL = "apply.sh, then install-harbor.sh"

# The one table the plan comes from. For each change, every matching row of a role
# the machine holds applies, up to and including the first row for any role.
IMPACTS: tuple[Impact, ...] = (
    Impact("harbor/common/templates/ui/private_key.pem", REINSTALL, restarts_harbor=True, cluster_wide=True),
    Impact("harbor/common/templates/registry/root.crt", REINSTALL, restarts_harbor=True, cluster_wide=True),
    Impact("harbor/common/templates/registry/config.yml", REINSTALL, restarts_harbor=True, cluster_wide=True),
    Impact("shared/secretkey", REINSTALL, restarts_harbor=True, cluster_wide=True),
    # Harbor 2.15: the pinned secrets and the seeded ones, the same on every node.
    Impact("harbor/harborgen/pins/*", REINSTALL, restarts_harbor=True, cluster_wide=True),
    Impact("secret/*", REINSTALL, restarts_harbor=True, cluster_wide=True),
    # Settings of each node's own services (pool sizes, workers, log level): nodes may differ a while.
    Impact("harbor/harbor.yml#external_database.harbor.max_*", REINSTALL, restarts_harbor=True),
    Impact("harbor/harbor.yml#external_database.harbor.conn_max_*", REINSTALL, restarts_harbor=True),
    Impact("harbor/harbor.yml#jobservice.max_job_workers", REINSTALL, restarts_harbor=True),
    Impact("harbor/harbor.yml#log.*", REINSTALL, restarts_harbor=True),
    Impact("harbor/harbor.yml*", REINSTALL, restarts_harbor=True, cluster_wide=True),
    Impact("harbor/*", REINSTALL, restarts_harbor=True),
    # install-harbor.sh alone reads it (prepare --with-trivy): the trivy adapter comes or goes there.
    Impact("values.sh#with_trivy", REINSTALL, restarts_harbor=True),
    Impact("values.sh#cephfs_client", "ceph/bootstrap-cephfs.sh (creates the client; add its key to the secrets)", phase=CEPH, role="ceph-admin"),
    Impact("values.sh#cephfs_subdirectories", "ceph/bootstrap-cephfs.sh (creates the directories the nodes mount)", phase=CEPH, role="ceph-admin"),
    Impact("values.sh#cephfs_client", REMOUNT, restarts_harbor=True, remount=True, role="harbor"),
    Impact("ceph/*.secret", REMOUNT, restarts_harbor=True, remount=True),
    Impact("ceph/client.conf", REMOUNT, restarts_harbor=True, remount=True),
    Impact("values.sh#cephfs_mount*", REMOUNT, restarts_harbor=True, remount=True),
    Impact("values.sh#cephfs_secret_file", REMOUNT, restarts_harbor=True, remount=True),
    Impact("values.sh#cephfs_conf_file", REMOUNT, restarts_harbor=True, remount=True),
    Impact("values.sh#cephfs_fuse_options", REMOUNT, restarts_harbor=True, remount=True),
    Impact("values.sh#cephfs_data_*", "ceph/bootstrap-cephfs.sh", phase=CEPH),
    Impact("values.sh#cephfs_metadata_*", "ceph/bootstrap-cephfs.sh", phase=CEPH),
    Impact("values.sh#cephfs_mds_hosts", "ceph/bootstrap-cephfs.sh", phase=CEPH),
    Impact("ceph/bootstrap-cephfs.sh", "ceph/bootstrap-cephfs.sh", phase=CEPH),
    Impact("systemd/*", "apply.sh (reloads systemd)"),
    Impact("database/*.sql", "apply.sh (runs create-database.sql)", phase=DATABASE),
    Impact("database/pg_hba.conf", "apply.sh (rewrites the Harbor lines of pg_hba.conf and reloads PostgreSQL)", phase=DATABASE),
    Impact("redis/*", "apply.sh, then restart Redis (every node's sessions and queued jobs wait)", phase=DATABASE),
    Impact("nginx/*", "apply.sh (run-nginx.sh replaces the nginx container)", phase=BALANCER),
    Impact("values.sh#balancer_*", "apply.sh (run-nginx.sh replaces the nginx container)", phase=BALANCER),
    Impact("*", "apply.sh"),
)


# Files whose changes IMPACTS tells apart by key: the detail of a change names it first, in backquotes.
KEYED = ("values.sh", "harbor/harbor.yml")


def impacts_of(artifact: str, detail: str, roles: tuple[str, ...]) -> list[Impact]:
    """The rows of IMPACTS that apply to this change on a machine with these roles."""
    key = artifact
    if artifact in KEYED and detail.startswith("`"):
        key = f"{artifact}#" + detail[1:].split("`", 1)[0]
    found = []
    for impact in IMPACTS:
        if fnmatch.fnmatchcase(key, impact.pattern) and (impact.role is None or impact.role in roles):
            found.append(impact)
            if impact.role is None:
                break
    return found


@dataclass(frozen=True)
class Step:
    node: str
    roles: tuple[str, ...]
    actions: tuple[str, ...]
    restarts_harbor: bool
    remount: bool
    new: bool = False
    removed: bool = False
    phase: Phase = HARBOR


@dataclass
class Report:
    base: str
    new: str
    topology: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    files: list[FileDiff] = field(default_factory=list)
    plan: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)  # what changes CI's checks, not a machine: lint.accept

    @property
    def empty(self) -> bool:
        return not (self.topology or self.added or self.removed or self.changes or self.review)


Accepts = list[dict[str, str]]


def diff_trees(base_name: str, base: tuple[Cluster, Tree], new_name: str, new: tuple[Cluster, Tree],
               accepts: tuple[Accepts, Accepts] = ([], [])) -> Report:
    (old_cluster, old_tree), (new_cluster, new_tree) = base, new
    report = Report(base_name, new_name)
    report.topology = topology_changes(old_cluster, new_cluster)
    report.review = accept_changes(*accepts)
    old_bundles, new_bundles = _bundles(old_tree), _bundles(new_tree)
    report.added = {node: sorted(new_bundles[node]) for node in sorted(new_bundles.keys() - old_bundles.keys())}
    report.removed = {node: sorted(old_bundles[node]) for node in sorted(old_bundles.keys() - new_bundles.keys())}
    # Dicts keep first-seen order: a change shared by several nodes stands where its first node's does.
    changes: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    files: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for node in sorted(old_bundles.keys() & new_bundles.keys()):
        for artifact, kind, detail, lines in _bundle_changes(old_bundles[node], new_bundles[node]):
            changes[(artifact, kind, detail)].append(node)
            if kind == "text" and node not in files[(artifact, lines)]:
                files[(artifact, lines)].append(node)
    report.changes = [Change(tuple(nodes), *key) for key, nodes in changes.items()]
    report.files = [FileDiff(tuple(nodes), artifact, lines) for (artifact, lines), nodes in files.items()]
    report.plan, report.warnings = plan(report, old_cluster, new_cluster)
    return report


def _bundles(tree: Tree) -> dict[str, dict[str, str]]:
    """node -> path -> text, manifests left out; the cluster's own files under CLUSTER."""
    bundles = {}
    for node, files in split_bundles(tree).items():
        texts = {path: artifact.content.decode("utf-8") for path, artifact in files.items() if path.rsplit("/", 1)[-1] != MANIFEST}
        bundles[node or CLUSTER] = texts
    return bundles


def _bundle_changes(old: dict[str, str], new: dict[str, str]):
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            yield path, "file", "removed", ()
        elif path not in old:
            yield path, "file", "added", ()
        elif old[path] != new[path]:
            kind, details = describe(path, old[path], new[path])
            lines = tuple(unified(old[path], new[path], path)) if kind == "text" else ()
            for detail in details:
                yield path, kind, detail, lines


def accept_changes(old: Accepts, new: Accepts) -> list[str]:
    """lint.accept entries added, removed or given another reason: each silences or unsilences a
    finding in CI, so a reviewer must see it though no bundle changes."""
    before = {entry["rule"]: entry["reason"] for entry in old}
    after = {entry["rule"]: entry["reason"] for entry in new}
    lines = []
    for rule in sorted(before.keys() | after.keys()):
        if rule not in before:
            lines.append(f"lint.accept: {rule} now accepted (silenced in CI): {after[rule]!r}")
        elif rule not in after:
            lines.append(f"lint.accept: {rule} no longer accepted: lint reports it again")
        elif before[rule] != after[rule]:
            lines.append(f"lint.accept: {rule} reason {before[rule]!r} → {after[rule]!r}")
    return lines


def topology_changes(old: Cluster, new: Cluster) -> list[str]:
    """Changes of the machines themselves, before any file."""
    before, after = {node.name: node for node in old.nodes}, {node.name: node for node in new.nodes}
    lines = []
    for name in sorted(after.keys() - before.keys()):
        lines.append(f"node `{name}` added ({after[name].address}, {', '.join(after[name].roles)})")
    for name in sorted(before.keys() - after.keys()):
        lines.append(f"node `{name}` removed ({before[name].address}, {', '.join(before[name].roles)})")
    for name in sorted(before.keys() & after.keys()):
        if before[name].address != after[name].address:
            lines.append(f"node `{name}` address {before[name].address} → {after[name].address}")
        if before[name].roles != after[name].roles:
            lines.append(f"node `{name}` roles {', '.join(before[name].roles)} → {', '.join(after[name].roles)}")
    if old.harbor.external_url != new.harbor.external_url:
        lines.append(f"external URL {old.harbor.external_url} → {new.harbor.external_url}")
    return lines


# --- the plan ------------------------------------------------------------------------

def plan(report: Report, old: Cluster, new: Cluster) -> tuple[list[Step], list[str]]:
    """One step per machine and phase: database and Ceph first, then the Harbor nodes one at a time,
    the load balancer last when nodes come and first when they go."""
    roles = {node.name: node.roles for node in (*old.nodes, *new.nodes)}
    by_step: dict[tuple[str, int], list[Impact]] = defaultdict(list)
    for change in report.changes:
        for node in change.nodes:
            if node != CLUSTER:
                for impact in impacts_of(change.artifact, change.detail, roles[node]):
                    by_step[(node, impact.phase)].append(impact)
    steps = [_step(node, roles[node], phase, found) for (node, phase), found in by_step.items()]
    for node in report.added:
        harbor = "harbor" in roles[node]
        steps.append(Step(node, roles[node], (REINSTALL if harbor else "apply.sh",), harbor, False, new=True))
    for node in report.removed:
        steps.append(Step(node, roles[node], ("stop Harbor there (docker-compose down) and retire the machine",),
                          False, False, removed=True))
    steps.sort(key=lambda step: (_rank(step, bool(report.added), bool(report.removed)), step.node))
    return steps, warnings(report, steps, old, new)


def _step(node: str, roles: tuple[str, ...], phase: Phase, impacts: list[Impact]) -> Step:
    actions = list(dict.fromkeys(impact.step for impact in impacts))
    if any(impact.remount for impact in impacts):  # the remount sequence runs apply.sh and install-harbor.sh itself
        actions = [action for action in actions if "apply.sh" not in action or action == REMOUNT]
    if "apply.sh" in actions and any("apply.sh" in action for action in actions if action != "apply.sh"):
        actions.remove("apply.sh")
    return Step(node, roles, tuple(actions), any(i.restarts_harbor for i in impacts), any(i.remount for i in impacts), phase=phase)


def _rank(step: Step, nodes_added: bool, nodes_removed: bool) -> int:
    if step.removed:
        return 6
    if step.phase == BALANCER:
        return 1 if nodes_removed and not nodes_added else 5
    if step.new:
        return 4
    return {DATABASE: 0, CEPH: 2, HARBOR: 3}[step.phase]


def _registry_redis(cluster: Cluster) -> tuple:
    """What the registry's Redis URL is made of (prepare builds it from harbor.yml)."""
    redis = cluster.redis
    return redis.address, redis.registry_index, redis.sentinel, redis.password.name, redis.idle_timeout_seconds


def warnings(report: Report, steps: list[Step], old: Cluster, new: Cluster) -> list[str]:
    found = []
    if any(change.artifact == "nginx/default.conf" and "server " in change.detail and ("+ `" in change.detail or "- `" in change.detail)
           for change in report.changes) and not new.is_harbor2:
        found.append(
            f"the set of Harbor nodes behind the load balancer changes: {new.load_balancer.stickiness} sends some clients to "
            "another node, and those users must log in again (UI sessions live in one node's memory)"
        )
    starting = [step.node for step in steps if step.restarts_harbor]
    if starting and not new.is_harbor2:
        found.append(
            f"Harbor starts on {', '.join(starting)}: each jobservice start sets every running replication job of the "
            "cluster back to pending and runs it again there (ResetRunningJobs): check that no replication job runs first"
        )
    if old.redis and new.redis and _registry_redis(old) != _registry_redis(new):
        found.append(
            "the registry's Redis URL changes: a saved garbage-collection schedule keeps the old one in the database "
            "(goharbor/harbor#17984): once every node runs the new one, save the GC schedule again in the UI"
        )
    for step in steps:
        if step.remount:
            found.append(f"{step.node}: CephFS is unmounted and mounted again: Harbor is down on that node meanwhile")
    if any(change.kind == "sql" and change.detail.startswith("- ") for change in report.changes):
        found.append(
            "statements leave create-database.sql, but apply.sh never drops anything: remove what they made by hand "
            "(DROP USER for an account of an address that left)"
        )
    if old.harbor.external_url != new.harbor.external_url:
        found.append(
            f"external_url changes ({old.harbor.external_url} → {new.harbor.external_url}): every node restarts, and every Docker client "
            "must log in again (docker login) at the new address"
        )
    wide = sorted({change.artifact for change in report.changes
                   if any(impact.cluster_wide for impact in impacts_of(change.artifact, change.detail, ("harbor",)))})
    if wide:
        found.append(
            f"cluster-wide change ({', '.join(wide)}): the nodes disagree until every one has restarted; "
            "restart them in quick succession and expect failed logins and uploads in between"
        )
    return found
