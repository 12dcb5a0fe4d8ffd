"""Stage 4, assembled: every node's bundle and the manifests, as bytes in memory."""

from __future__ import annotations

import hashlib

from .artifacts import Artifact
from .artifacts.catalogue import CLUSTER_FOLDERS, render_cluster_file, render_row
from .errors import RenderError
from .model import Cluster
from .targets import target_of
from .templating import Renderer

MANIFEST = "MANIFEST.sha256"

Tree = dict[str, Artifact]  # path relative to out/<cluster>/ -> file
Bundles = dict[str, dict[str, Artifact]]  # node -> path inside its bundle -> file; "" holds the cluster's own files
CLUSTER_LEVEL = ""


def render_cluster(cluster: Cluster, renderer: Renderer) -> Tree:
    """Every file of out/<cluster>/: the node bundles, each with its manifest, and the cluster manifest."""
    target = target_of(cluster)
    bundles: Bundles = {}
    for node in cluster.nodes:
        bundle: dict[str, Artifact] = {}
        for row in target.catalogue.rows_of(cluster, node):
            artifact = render_row(renderer, cluster, node, row, bundle, target=target)
            if artifact.path in bundle:
                raise RenderError(f"{node.name}/{artifact.path}: rendered twice (by two rows of the artifact catalogue)")
            bundle[artifact.path] = artifact
        bundles[node.name] = bundle
    files = (render_cluster_file(renderer, cluster, file, target=target) for file in target.catalogue.cluster_files)
    bundles[CLUSTER_LEVEL] = {artifact.path: artifact for artifact in files}
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
        if not inner or node in CLUSTER_FOLDERS:
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
