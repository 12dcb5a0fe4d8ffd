"""`harborgen diff BASE NEW`: what a topology change does to every bundle, and what applying it costs.

Both revisions are compiled in memory. Changes are told in each artifact's own
terms (the differ its catalogue row names, generator/review/semantic.py), identical
changes on several nodes once with the list of nodes, and never a manifest or
a secret value: placeholders stay placeholders. The plan comes from the rows'
impacts (generator/review/impacts.py): what changing which key of which file asks of
a machine with which roles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..artifacts.catalogue import Catalogue, Row
from ..bundle import MANIFEST, Tree, split_bundles
from ..errors import RenderError
from ..model import Cluster
from ..targets import Feature, target_of
from .impacts import Action, Impact, Phase, impacts_for, machine_phase
from .semantic import Delta, describe, unified

CLUSTER = "(cluster)"


@dataclass(frozen=True)
class Change:
    """One change of one file, the same on every node listed; kind 'file' for a file added or removed."""

    nodes: tuple[str, ...]
    artifact: str
    kind: str
    delta: Delta


FILE_ADDED = Delta("", None, "")
FILE_REMOVED = Delta("", "", None)


@dataclass(frozen=True)
class FileDiff:
    nodes: tuple[str, ...]
    artifact: str
    lines: tuple[str, ...]  # the unified diff of the first node, for the folded view


class Catalogues:
    """The rows of both revisions' targets: a file of either is found, the new one's row first."""

    def __init__(self, old: Cluster, new: Cluster):
        self._catalogues: tuple[Catalogue, ...] = tuple(dict.fromkeys((target_of(new).catalogue, target_of(old).catalogue)))

    def row(self, path: str) -> Row:
        for catalogue in self._catalogues:
            row = catalogue.find(path)
            if row is not None:
                return row
        raise RenderError(f"{path} is in no row of the artifact catalogue")

    def differ(self, node: str, path: str) -> str:
        if node != CLUSTER:
            return self.row(path).differ
        for catalogue in self._catalogues:
            file = catalogue.cluster_file(path)
            if file is not None:
                return file.differ
        return "text"  # a file of out/<cluster>/ that no target writes any more: shown line by line


@dataclass(frozen=True)
class Step:
    node: str
    roles: tuple[str, ...]
    actions: tuple[Action, ...]
    restarts_harbor: bool
    remount: bool
    new: bool = False
    removed: bool = False
    phase: Phase = Phase.HARBOR


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
    catalogues = Catalogues(old_cluster, new_cluster)
    report = Report(base_name, new_name)
    report.topology = topology_changes(old_cluster, new_cluster)
    report.review = accept_changes(*accepts)
    old_bundles, new_bundles = _bundles(old_tree), _bundles(new_tree)
    report.added = {node: sorted(new_bundles[node]) for node in sorted(new_bundles.keys() - old_bundles.keys())}
    report.removed = {node: sorted(old_bundles[node]) for node in sorted(old_bundles.keys() - new_bundles.keys())}
    # Dicts keep first-seen order: a change shared by several nodes stands where its first node's does.
    changes: dict[tuple[str, str, Delta], list[str]] = defaultdict(list)
    files: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for node in sorted(old_bundles.keys() & new_bundles.keys()):
        for artifact, kind, delta, lines in _bundle_changes(node, old_bundles[node], new_bundles[node], catalogues):
            changes[(artifact, kind, delta)].append(node)
            if kind == "text" and node not in files[(artifact, lines)]:
                files[(artifact, lines)].append(node)
    report.changes = [Change(tuple(nodes), *key) for key, nodes in changes.items()]
    report.files = [FileDiff(tuple(nodes), artifact, lines) for (artifact, lines), nodes in files.items()]
    report.plan, report.warnings = plan(report, old_cluster, new_cluster, catalogues)
    return report


def _bundles(tree: Tree) -> dict[str, dict[str, str]]:
    """node -> path -> text, manifests left out; the cluster's own files under CLUSTER."""
    bundles = {}
    for node, files in split_bundles(tree).items():
        texts = {path: artifact.content.decode("utf-8") for path, artifact in files.items() if path.rsplit("/", 1)[-1] != MANIFEST}
        bundles[node or CLUSTER] = texts
    return bundles


def _bundle_changes(node: str, old: dict[str, str], new: dict[str, str], catalogues: Catalogues):
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            yield path, "file", FILE_REMOVED, ()
        elif path not in old:
            yield path, "file", FILE_ADDED, ()
        elif old[path] != new[path]:
            kind, deltas = describe(catalogues.differ(node, path), old[path], new[path])
            lines = tuple(unified(old[path], new[path], path)) if kind == "text" else ()
            for delta in deltas:
                yield path, kind, delta, lines


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
            lines.append(f"lint.accept: {rule} no longer accepted: lint fails if it still fires")
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

def _impacts(change: Change, roles: tuple[str, ...], catalogues: Catalogues) -> list[Impact]:
    """What the change asks of a machine with these roles (a file that comes or goes: any change's cost)."""
    return impacts_for(catalogues.row(change.artifact).impacts, change.delta.key, roles)


def plan(report: Report, old: Cluster, new: Cluster, catalogues: Catalogues) -> tuple[list[Step], list[str]]:
    """One step per machine and phase: database and Ceph first, then the Harbor nodes one at a time,
    the load balancer last when nodes come and first when they go."""
    roles = {node.name: node.roles for node in (*old.nodes, *new.nodes)}
    by_step: dict[tuple[str, Phase], list[Action]] = defaultdict(list)
    for change in report.changes:
        for node in change.nodes:
            if node != CLUSTER:
                for impact in _impacts(change, roles[node], catalogues):
                    by_step[(node, _phase(impact.action, roles[node]))].append(impact.action)
    steps = [_step(node, roles[node], phase, actions) for (node, phase), actions in by_step.items()]
    for node in report.added:
        harbor = "harbor" in roles[node]
        steps.append(Step(node, roles[node], (Action.REINSTALL if harbor else Action.APPLY,), harbor, False, new=True))
    for node in report.removed:
        steps.append(Step(node, roles[node], (Action.RETIRE,), False, False, removed=True))
    steps.sort(key=lambda step: (_rank(step, bool(report.added), bool(report.removed)), step.node))
    return steps, warnings(report, steps, old, new, catalogues)


def _phase(action: Action, roles: tuple[str, ...]) -> Phase:
    """A plain apply, or keepalived's reload, runs with the other steps of a database or load-balancer machine."""
    if action in (Action.APPLY, Action.RELOAD_KEEPALIVED):
        return machine_phase(roles)
    return action.phase


def _step(node: str, roles: tuple[str, ...], phase: Phase, found: list[Action]) -> Step:
    actions = list(dict.fromkeys(found))
    if Action.REMOUNT in actions:  # the remount sequence runs apply.sh and install-harbor.sh itself
        actions = [action for action in actions if action is Action.REMOUNT or not action.runs_apply]
    if Action.REPLACE_BALANCER in actions and Action.RELOAD_BALANCER in actions:  # a new container loads the new site
        actions.remove(Action.RELOAD_BALANCER)
    if Action.APPLY in actions and any(action.runs_apply for action in actions if action is not Action.APPLY):
        actions.remove(Action.APPLY)
    restarts = any(action.restarts_harbor for action in actions)
    return Step(node, roles, tuple(actions), restarts, Action.REMOUNT in actions, phase=phase)


def _rank(step: Step, nodes_added: bool, nodes_removed: bool) -> int:
    if step.removed:
        return 6
    if step.phase == Phase.BALANCER:
        return 1 if nodes_removed and not nodes_added else 5
    if step.new:
        return 4
    return {Phase.DATABASE: 0, Phase.CEPH: 2, Phase.HARBOR: 3}[step.phase]


def _moves_upstream_servers(change: Change) -> bool:
    """An nginx change that adds or removes a server line of an upstream: the set of nodes behind it."""
    line = change.delta.new if change.delta.old is None else change.delta.old if change.delta.new is None else None
    return change.kind == "nginx" and line is not None and line.startswith("server ")


def _pair_order(steps: list[Step], new: Cluster) -> list[str]:
    """The plan cannot know which load balancer holds the floating address: the operator looks."""
    vrrp = new.load_balancer.vrrp
    touched = [step.node for step in steps if step.phase is Phase.BALANCER and not step.new and not step.removed]
    if vrrp is None or len(touched) < 2:
        return []
    replaces = any(Action.REPLACE_BALANCER in step.actions for step in steps if step.node in touched)
    cost = ("it replaces each nginx container: on the holder, run-nginx.sh first hands the address to the other node "
            "(it stops keepalived there, and starts it again once the new container runs)" if replaces else "each reloads gracefully")
    return [f"load balancers {', '.join(touched)}: apply first on the one that does not hold {vrrp.virtual_address} "
            f"(ip -br addr show dev {vrrp.interface}), then on the holder; {cost}"]


def _galera_start(old: Cluster, new: Cluster) -> list[str]:
    """A database that becomes a Galera cluster starts as one: apply.sh installs, the operator starts."""
    if new.database.engine != "galera" or old.database.engine == "galera":
        return []
    first, *others = (node.name for node in new.database.nodes)
    return [f"the database becomes a Galera cluster: after apply.sh on {first}, run database/galera.sh bootstrap there (MariaDB "
            f"restarts as the cluster's first member: Harbor has no database meanwhile); then on {', '.join(others)}, one at a "
            "time, apply.sh and systemctl start mariadb (each copies the data by SST and must be Synced before the next)"]


def warnings(report: Report, steps: list[Step], old: Cluster, new: Cluster, catalogues: Catalogues) -> list[str]:
    found = []
    target = target_of(new)
    if target.has(Feature.SESSIONS_IN_NODE_MEMORY) and any(_moves_upstream_servers(change) for change in report.changes):
        found.append(
            f"the set of Harbor nodes behind the load balancer changes: {new.load_balancer.stickiness} sends some clients to "
            "another node, and those users must log in again (UI sessions live in one node's memory)"
        )
    starting = [step.node for step in steps if step.restarts_harbor]
    if starting and target.has(Feature.JOBS_RESET_ON_START):
        found.append(
            f"Harbor starts on {', '.join(starting)}: each jobservice start sets every running replication job of the "
            "cluster back to pending and runs it again there (ResetRunningJobs): check that no replication job runs first"
        )
    found.extend(target.plan_warnings(old, new))
    found.extend(_pair_order(steps, new))
    found.extend(_galera_start(old, new))
    for step in steps:
        if step.remount:
            found.append(f"{step.node}: CephFS is unmounted and mounted again: Harbor is down on that node meanwhile")
    if any(change.kind == "sql" and change.delta.new is None for change in report.changes):
        found.append(
            "statements leave create-database.sql, but apply.sh never drops anything: remove what they made by hand "
            "(DROP USER for an account of an address that left)"
        )
    if old.harbor.external_url != new.harbor.external_url:
        found.append(
            f"external_url changes ({old.harbor.external_url} → {new.harbor.external_url}): every node restarts, and every Docker client "
            "must log in again (docker login) at the new address"
        )
    wide = sorted({change.artifact for change in report.changes if CLUSTER not in change.nodes
                   and any(impact.cluster_wide for impact in _impacts(change, ("harbor",), catalogues))})
    if wide:
        found.append(
            f"cluster-wide change ({', '.join(wide)}): the nodes disagree until every one has restarted; "
            "restart them in quick succession and expect failed logins and uploads in between"
        )
    return found
