"""The stages in order: load -> validate -> model -> render. Writing is the CLI's choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bundle import Tree, render_cluster
from .loader import Located, load_file, load_text
from .model import Cluster
from .resources import TEMPLATES_DIR
from .secrets.placeholders import needed_secrets
from .targets import build_cluster, target_of
from .templating import Renderer
from .validate import validate


@dataclass(frozen=True)
class Checked:
    """A topology that passed validation: where each value stands, the document with defaults, the plan."""

    located: Located
    document: dict[str, Any]
    cluster: Cluster


def load_checked(topology: Path) -> Checked:
    """InputError lists every problem in the file; otherwise all that later stages may ask of it."""
    return _checked(load_file(topology))


def load_checked_text(raw: bytes, name: str) -> Checked:
    """The same, for a topology that is not a file here (a Git revision's)."""
    return _checked(load_text(raw, name))


def _checked(located: Located) -> Checked:
    document = validate(located)
    return Checked(located, document, build_cluster(document))


def load_cluster(topology: Path) -> Cluster:
    """The plan of a topology file; InputError lists every problem in it."""
    return load_checked(topology).cluster


def compile_cluster(cluster: Cluster) -> Tree:
    return render_cluster(cluster, Renderer(TEMPLATES_DIR))


def secrets_needed(cluster: Cluster, tree: Tree) -> dict[str, frozenset[str]]:
    """Every secret TREE holds a placeholder for, with the contexts it lands in and what its consumer asks."""
    return needed_secrets(tree, target_of(cluster).managed_secrets)
