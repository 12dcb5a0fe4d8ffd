"""Files of the whole cluster, in out/<cluster>/ beside the node bundles (templates/cluster/)."""

from __future__ import annotations

from ..model import Cluster
from ..templating import Renderer
from . import Artifact, cluster_context, plain_script


def render_runbook(renderer: Renderer, cluster: Cluster) -> Artifact:
    admins = [node for node in cluster.nodes if node.has("ceph-admin")]
    template = "cluster/RUNBOOK-2.15.md.j2" if cluster.is_harbor2 else "cluster/RUNBOOK.md.j2"
    content = renderer.render(
        template, "RUNBOOK.md",
        **cluster_context(cluster),
        ceph_admin=admins[0] if admins else None,
        gc_node=cluster.harbor_nodes[0],
        # Mermaid ids: prefixed so that no node name can collide with the diagram's own boxes.
        ids={node.name: "node_" + node.name.replace("-", "_") for node in cluster.nodes},
    )
    return Artifact("RUNBOOK.md", content)


def render_gc_script(renderer: Renderer, cluster: Cluster) -> Artifact:
    return plain_script(renderer, "gc.sh", "gc.sh")


def render_cluster_values(renderer: Renderer, cluster: Cluster) -> Artifact:
    """What the cluster-wide scripts know of the cluster."""
    return Artifact("values.sh", renderer.render("cluster/values.sh.j2", "values.sh", **cluster_context(cluster)))


ARTIFACTS = (render_runbook, render_gc_script, render_cluster_values)
# Harbor 2.15 runs garbage collection as a job, once for the cluster, through Redis: no gc.sh.
HARBOR2_ARTIFACTS = (render_runbook,)
