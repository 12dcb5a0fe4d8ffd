"""Stage 4, assembled: every node's bundle and the manifests, as bytes in memory."""

from __future__ import annotations

import hashlib

from .artifacts import Artifact, ArtifactRenderer, ceph, database, harbor, harbor2, nginx, postgresql, redis
from .artifacts import cluster as cluster_files
from .artifacts.apply import VALUES, render_apply_script, render_values
from .errors import RenderError
from .model import Cluster
from .templating import Renderer

MANIFEST = "MANIFEST.sha256"
APPLY_SCRIPT = "apply.sh"

ROLE_ARTIFACTS: dict[str, tuple[ArtifactRenderer, ...]] = {
    "harbor": harbor.ARTIFACTS + ceph.MOUNT_ARTIFACTS,
    "ceph-admin": ceph.ADMIN_ARTIFACTS,
    "load-balancer": nginx.ARTIFACTS,
    "database": database.ARTIFACTS,
}
HARBOR2_ROLE_ARTIFACTS: dict[str, tuple[ArtifactRenderer, ...]] = {
    "harbor": harbor2.ARTIFACTS + ceph.MOUNT_ARTIFACTS,
    "ceph-admin": ceph.ADMIN_ARTIFACTS,
    "load-balancer": nginx.ARTIFACTS,
    "database": postgresql.ARTIFACTS,
    "redis": redis.ARTIFACTS,
}

Tree = dict[str, Artifact]  # path relative to out/<cluster>/ -> file
Bundles = dict[str, dict[str, Artifact]]  # node -> path inside its bundle -> file; "" holds the cluster's own files
CLUSTER_LEVEL = ""


def render_cluster(cluster: Cluster, renderer: Renderer) -> Tree:
    """Every file of out/<cluster>/: the node bundles, each with its manifest, and the cluster manifest."""
    bundles: Bundles = {}
    role_artifacts = HARBOR2_ROLE_ARTIFACTS if cluster.is_harbor2 else ROLE_ARTIFACTS
    cluster_artifacts = cluster_files.HARBOR2_ARTIFACTS if cluster.is_harbor2 else cluster_files.ARTIFACTS
    for node in cluster.nodes:
        bundle: dict[str, Artifact] = {}
        for role in node.roles:
            for render in role_artifacts[role]:
                artifact = render(renderer, cluster, node)
                if artifact is None:
                    continue
                if artifact.path in bundle:
                    raise RenderError(f"{node.name}/{artifact.path}: rendered twice (by two roles of node {node.name})")
                bundle[artifact.path] = artifact
        bundle[APPLY_SCRIPT] = render_apply_script(renderer, cluster, node)
        bundle[VALUES] = render_values(renderer, cluster, node, bundle)
        bundles[node.name] = bundle
    bundles[CLUSTER_LEVEL] = {artifact.path: artifact for artifact in (render(renderer, cluster) for render in cluster_artifacts)}
    return assemble(bundles)


def assemble(bundles: Bundles) -> Tree:
    """The cluster tree of these bundles, with a manifest in each bundle and one over everything."""
    tree: Tree = {}
    for node, bundle in bundles.items():
        if node == CLUSTER_LEVEL:
            tree.update(bundle)
            continue
        files = {path: artifact for path, artifact in bundle.items() if path != MANIFEST}
        files[MANIFEST] = manifest(files)
        tree.update({f"{node}/{path}": artifact for path, artifact in files.items()})
    tree[MANIFEST] = manifest(tree)
    return tree


def split_bundles(tree: Tree) -> Bundles:
    """The node bundles of a cluster tree, without the manifests (assemble makes them again)."""
    bundles: Bundles = {}
    for path, artifact in tree.items():
        node, _, inner = path.partition("/")
        if not inner:
            if path != MANIFEST:
                bundles.setdefault(CLUSTER_LEVEL, {})[path] = artifact
        elif inner != MANIFEST:
            bundles.setdefault(node, {})[inner] = artifact
    return bundles


def manifest(files: Tree) -> Artifact:
    """A sha256sum-compatible list of every file (``sha256sum -c`` checks it)."""
    lines = [f"{sha256(artifact.content)}  {path}\n" for path, artifact in sorted(files.items()) if path != MANIFEST]
    return Artifact(MANIFEST, "".join(lines).encode("utf-8"))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
