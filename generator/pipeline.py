"""The stages in order: load -> validate -> model -> render. Writing is the CLI's choice."""

from __future__ import annotations

from pathlib import Path

from .bundle import Tree, render_cluster
from .loader import load_file
from .model import Cluster, build_cluster
from .resources import TEMPLATES_DIR
from .templating import Renderer
from .validate import validate


def load_cluster(topology: Path) -> Cluster:
    """The plan of a topology file; InputError lists every problem in it."""
    return build_cluster(validate(load_file(topology)))


def compile_cluster(cluster: Cluster) -> Tree:
    return render_cluster(cluster, Renderer(TEMPLATES_DIR))
