"""Stage 4: the files of the bundles, one catalogue row each (generator/artifacts/catalogue.py).

Each module holds the rows of one part of the cluster, beside the template
family it renders (``templates/<family>/``); the rows of one Harbor version
live in its target (generator/targets/). Scripts are plain files
(``templates/scripts/``), the same in every bundle; each bundle's ``values.sh``
holds what they need to know about its node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Cluster, Node


@dataclass(frozen=True)
class Artifact:
    """One file of a bundle: its path inside the node's directory and its exact bytes."""

    path: str
    content: bytes
    executable: bool = False
    secret: bool = False  # holds a secret value (materialized bundles only): mode 0600
    contexts: tuple[str, ...] = ()  # the languages a secret placeholder in it is read in (its catalogue row's)


def cluster_context(cluster: Cluster) -> dict[str, Any]:
    """What every template may use: the model, never the raw topology."""
    return {
        "cluster": cluster,
        "harbor": cluster.harbor,
        "cephfs": cluster.cephfs,
        "database": cluster.database,
        "balancer": cluster.load_balancer,
        "harbor_nodes": cluster.harbor_nodes,
        **cluster.template_names(),
    }


def context(cluster: Cluster, node: Node, **extra: Any) -> dict[str, Any]:
    """The cluster's context plus the node whose bundle is being rendered."""
    return {**cluster_context(cluster), "node": node, **extra}
