"""What the RUNBOOK of every target is told beyond the model (templates/cluster/)."""

from __future__ import annotations

from ..model import Cluster


def runbook_values(cluster: Cluster) -> dict:
    admins = [node for node in cluster.nodes if node.has("ceph-admin")]
    return {
        "ceph_admin": admins[0] if admins else None,
        "gc_node": cluster.harbor_nodes[0],
        # Mermaid ids: prefixed so that no node name can collide with the diagram's own boxes.
        "ids": {node.name: "node_" + node.name.replace("-", "_") for node in cluster.nodes},
    }
