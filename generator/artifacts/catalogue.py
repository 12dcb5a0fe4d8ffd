"""The artifact catalogue: every file a bundle can hold, one row each, with everything the stages ask of it.

A row says where the file sits in the bundle, what makes it (a template, or a
plain script shipped as it is), which roles carry it, the languages a secret
lands in there, which differ reads it, what changing it costs, and where
apply.sh installs it (or which step runs it from the bundle). Rendering,
secret filling, `diff`, `lint` and the install list read these rows and
nothing else; a row that leaves one of them out fails when the catalogue is
built, at import.

Which target a row belongs to is where it is declared: a target's package
lists its own rows beside the ones every target shares.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import RenderError
from ..model import Cluster, Node
from ..review.impacts import Action, Impact
from . import Artifact, cluster_context, context

Values = Callable[[Cluster, Node, dict[str, Artifact]], dict[str, Any]]
_FIELD = re.compile(r"\{([a-z_]+)\}")


class When(Enum):
    """When apply.sh installs a file, in this order: before the node mounts CephFS, on CephFS once for the
    whole cluster, or after the mount."""

    BEFORE_MOUNT = "before-mount"
    SHARED = "shared"  # on CephFS: written by the first node, refused when another node's differs
    AFTER_MOUNT = "after-mount"


@dataclass(frozen=True)
class Install:
    """apply.sh installs the file at DESTINATION (of the cluster and node), mode 0600 when it holds a secret."""

    destination: Callable[[Cluster, Node], str]
    when: When = When.AFTER_MOUNT
    service_user: str = ""  # may own the directory the file lands in (refuse_unsafe_target in apply.sh)


@dataclass(frozen=True)
class RunsFromBundle:
    """The file is not installed: a step runs it, or reads it, where the bundle lies."""

    by: str


@dataclass(frozen=True)
class Row:
    path: str  # inside the bundle; {client} stands for the CephFS client's name
    source: str  # under templates/: a Jinja template, or scripts/NAME shipped as it is (executable)
    roles: tuple[str, ...]
    differ: str  # a kind of generator/review/semantic.py's DIFFERS
    impacts: tuple[Impact, ...]  # in order; the last one, for any key and role, is what any other change costs
    install: Install | RunsFromBundle
    contexts: tuple[str, ...] = ()  # where a secret placeholder lands, read by generator/secrets/legality.py
    when: Callable[[Cluster, Node], bool] | None = None  # None: in every bundle of its roles
    values: Values | None = None  # what the template needs beyond the cluster and the node

    @property
    def script(self) -> bool:
        return self.source.startswith("scripts/")

    @property
    def pattern(self) -> str:
        """The glob every bundle path of this row matches."""
        return _FIELD.sub("*", self.path)

    def path_in(self, cluster: Cluster) -> str:
        return _FIELD.sub(lambda match: _PATH_FIELDS[match.group(1)](cluster), self.path)


_PATH_FIELDS: dict[str, Callable[[Cluster], str]] = {"client": lambda cluster: cluster.cephfs.client}


# The folders of out/<cluster>/ that hold cluster files: beside the bundles, so no node may take their names.
CLUSTER_FOLDERS = frozenset({"ansible"})


@dataclass(frozen=True)
class ClusterFile:
    """A file of the whole cluster, in out/<cluster>/ beside the bundles: for people and the
    cluster-wide scripts, on no machine, so with no impact and no destination."""

    path: str
    source: str
    differ: str
    values: Callable[[Cluster], dict[str, Any]] | None = None

    @property
    def script(self) -> bool:
        return self.source.startswith("scripts/")

    @property
    def plain(self) -> bool:
        """Shipped as it is: a script, or a file the same for every cluster (a playbook)."""
        return not self.source.endswith(".j2")


@dataclass(frozen=True)
class Catalogue:
    """The rows of one target's bundles, and its cluster files."""

    rows: tuple[Row, ...]
    cluster_files: tuple[ClusterFile, ...] = field(default=())

    def __post_init__(self) -> None:
        for row in self.rows:
            _check_row(row)
        for file in self.cluster_files:
            _check_differ(file.path, file.differ)
            folder, _, inner = file.path.partition("/")
            if inner and folder not in CLUSTER_FOLDERS:
                raise RenderError(f"cluster file {file.path}: its folder {folder!r} is not one of CLUSTER_FOLDERS, where no node's bundle can be")
        for paths in ([row.pattern for row in self.rows], [file.path for file in self.cluster_files]):
            repeated = sorted({path for path in paths if paths.count(path) > 1})
            if repeated:
                raise RenderError(f"the artifact catalogue has two rows for {', '.join(repeated)}")

    def find(self, bundle_path: str) -> Row | None:
        return next((row for row in self.rows if fnmatch.fnmatchcase(bundle_path, row.pattern)), None)

    def row_for(self, bundle_path: str) -> Row:
        row = self.find(bundle_path)
        if row is None:
            raise RenderError(f"{bundle_path} is in no row of the artifact catalogue")
        return row

    def cluster_file(self, path: str) -> ClusterFile | None:
        return next((file for file in self.cluster_files if file.path == path), None)

    def rows_of(self, cluster: Cluster, node: Node) -> Iterable[Row]:
        return (row for row in self.rows if any(node.has(role) for role in row.roles) and (row.when is None or row.when(cluster, node)))


def _check_differ(path: str, differ: str) -> None:
    from ..review.semantic import DIFFERS  # imported late: semantic needs the placeholder pattern, which needs no catalogue

    if differ not in DIFFERS:
        raise RenderError(f"artifact {path}: no differ {differ!r} (expected one of {', '.join(DIFFERS)})")


def _check_row(row: Row) -> None:
    _check_differ(row.path, row.differ)
    if not row.impacts or row.impacts[-1].key != "*" or row.impacts[-1].role is not None:
        raise RenderError(f"artifact {row.path}: its last impact must say what any change costs (key '*', every role)")
    if not isinstance(row.install, (Install, RunsFromBundle)):
        raise RenderError(f"artifact {row.path}: no destination (expected Install(...) or RunsFromBundle(...))")
    if not row.roles:
        raise RenderError(f"artifact {row.path}: in no role's bundle")
    from ..secrets.legality import CONTEXTS  # late, as DIFFERS

    unknown = [context for context in row.contexts if context not in CONTEXTS]
    if unknown:
        raise RenderError(f"artifact {row.path}: no legality context {', '.join(map(repr, unknown))} (generator/secrets/legality.py)")


def render_row(renderer: Any, cluster: Cluster, node: Node, row: Row, bundle: dict[str, Artifact], **common: Any) -> Artifact:
    """The row's file in NODE's bundle; BUNDLE holds the files rendered before it, COMMON what every template sees."""
    path = row.path_in(cluster)
    if row.script:
        return Artifact(path, renderer.plain(row.source), executable=True)
    extra = row.values(cluster, node, bundle) if row.values else {}
    content = renderer.render(row.source, f"{node.name}/{path}", **context(cluster, node, **common, **extra))
    return Artifact(path, content, contexts=row.contexts)


def render_cluster_file(renderer: Any, cluster: Cluster, file: ClusterFile, **common: Any) -> Artifact:
    if file.plain:
        return Artifact(file.path, renderer.plain(file.source), executable=file.script)
    extra = file.values(cluster) if file.values else {}
    return Artifact(file.path, renderer.render(file.source, file.path, **cluster_context(cluster), **common, **extra))


# Shorthands for the rows.
APPLY_ONLY = (Impact(Action.APPLY),)


def script(path: str, name: str, roles: tuple[str, ...], by: str, impacts: tuple[Impact, ...] = APPLY_ONLY) -> Row:
    """A plain script of templates/scripts/, shipped as it is and run from the bundle."""
    return Row(path, f"scripts/{name}", roles, "text", impacts, RunsFromBundle(by))


def under(directory: Callable[[Cluster], str], relative: str, when: When = When.AFTER_MOUNT) -> Install:
    """Installed at RELATIVE below a directory the topology names."""
    return Install(lambda cluster, node: f"{directory(cluster)}/{relative}", when)
