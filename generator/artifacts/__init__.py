"""Stage 4: one ``render_<artifact>`` function per file of a node bundle.

Each module serves one template family (``templates/<family>/``); ``ROLE_ARTIFACTS``
says which files each role puts in a bundle. Scripts are plain files
(``templates/scripts/``), the same in every bundle; each bundle's ``values.sh``
holds what they need to know about its node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import Cluster, Node
from ..templating import Renderer


@dataclass(frozen=True)
class Artifact:
    """One file of a bundle: its path inside the node's directory and its exact bytes."""

    path: str
    content: bytes
    executable: bool = False
    secret: bool = False  # holds a secret value (materialized bundles only): mode 0600


ArtifactRenderer = Callable[[Renderer, Cluster, Node], "Artifact | None"]  # None: not for this topology


def cluster_context(cluster: Cluster) -> dict[str, Any]:
    """What every template may use: the model, never the raw topology."""
    return {
        "cluster": cluster,
        "harbor": cluster.harbor,
        "cephfs": cluster.cephfs,
        "database": cluster.database,
        "balancer": cluster.load_balancer,
        "harbor_nodes": cluster.harbor_nodes,
        "redis": cluster.redis,
    }


def context(cluster: Cluster, node: Node, **extra: Any) -> dict[str, Any]:
    """The cluster's context plus the node whose bundle is being rendered."""
    return {**cluster_context(cluster), "node": node, **extra}


def render_template(
    renderer: Renderer, cluster: Cluster, node: Node, template: str, path: str, *, executable: bool = False, **extra: Any
) -> Artifact:
    artifact_name = f"{node.name}/{path}"
    content = renderer.render(template, artifact_name, **context(cluster, node, **extra))
    return Artifact(path, content, executable)


def plain_script(renderer: Renderer, name: str, path: str) -> Artifact:
    """A script shipped into bundles as it is (templates/scripts/NAME): its values come from values.sh."""
    return Artifact(path, renderer.plain(f"scripts/{name}"), executable=True)
