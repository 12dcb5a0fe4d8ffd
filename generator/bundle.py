"""Stage 4, assembled: every node's bundle and the manifests, as bytes in memory."""

from __future__ import annotations

import hashlib

from .artifacts import Artifact, ArtifactRenderer, ceph, database, harbor, nginx
from .errors import RenderError
from .model import Cluster
from .templating import Renderer

MANIFEST = "MANIFEST.sha256"

ROLE_ARTIFACTS: dict[str, tuple[ArtifactRenderer, ...]] = {
    "harbor": harbor.ARTIFACTS + ceph.MOUNT_ARTIFACTS,
    "ceph-admin": ceph.ADMIN_ARTIFACTS,
    "load-balancer": nginx.ARTIFACTS,
    "database": database.ARTIFACTS,
}

Tree = dict[str, Artifact]  # path relative to out/<cluster>/ -> file


def render_cluster(cluster: Cluster, renderer: Renderer) -> Tree:
    """Every file of out/<cluster>/: the node bundles, each with its manifest, and the cluster manifest."""
    tree: Tree = {}
    for node in cluster.nodes:
        bundle: Tree = {}
        for role in node.roles:
            for render in ROLE_ARTIFACTS[role]:
                artifact = render(renderer, cluster, node)
                if artifact.path in bundle:
                    raise RenderError(f"{node.name}/{artifact.path}: rendered twice (by two roles of node {node.name})")
                bundle[artifact.path] = artifact
        bundle[MANIFEST] = manifest(bundle)
        tree.update({f"{node.name}/{path}": artifact for path, artifact in bundle.items()})
    tree[MANIFEST] = manifest(tree)
    return tree


def manifest(files: Tree) -> Artifact:
    """A sha256sum-compatible list of every file (``sha256sum -c`` checks it)."""
    lines = [f"{sha256(artifact.content)}  {path}\n" for path, artifact in sorted(files.items()) if path != MANIFEST]
    return Artifact(MANIFEST, "".join(lines).encode("utf-8"))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
