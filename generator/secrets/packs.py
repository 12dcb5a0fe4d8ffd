"""Secrets packs: what one machine gets, and only that.

A node's pack holds that node's secret-bearing files with every placeholder
filled (by Python, after the legality rules passed) and the digest of the
bundle they belong to. apply.sh installs them as they are: it parses and
checks no secret itself, it only verifies that the pack belongs to its bundle.
A node whose bundle holds no placeholder (the load balancer) gets a pack with
no secret at all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..artifacts import Artifact
from ..bundle import MANIFEST, Tree, assemble, sha256, split_bundles
from .placeholders import fill, placeholders_in

PACK_FILES = "files"
PACK_DIGEST = "BUNDLE.sha256"  # one line: the digest of <cluster>/<node>/MANIFEST.sha256; apply.sh wants exactly that


def filled_files(bundle: dict[str, Artifact], values: dict[str, str]) -> dict[str, Artifact]:
    """The bundle's secret-bearing files, filled, marked secret (mode 0600)."""
    return {
        path: dataclasses.replace(artifact, content=fill(artifact, values), secret=True)
        for path, artifact in sorted(bundle.items())
        if placeholders_in(artifact.content)
    }


def _manifest_name(cluster: str, node: str) -> str:
    return f"{cluster}/{node}/{MANIFEST}"


def digest_line(tree: Tree, cluster: str, node: str) -> str:
    """What a pack's BUNDLE.sha256 holds: which render of which node of which cluster it fills."""
    return f"{sha256(tree[f'{node}/{MANIFEST}'].content)}  {_manifest_name(cluster, node)}\n"


def pack_of(cluster: str, node: str):
    """The Ownership of a pack directory (generator/writer.py): a pack harborgen wrote for this
    cluster and node vouches for its BUNDLE.sha256 and its files/; any other directory for nothing."""
    from ..writer import read_regular

    def owns(directory: Path):
        try:
            line = (read_regular(directory / PACK_DIGEST) or b"")[:1024].decode("ascii")
        except (OSError, UnicodeDecodeError):
            line = ""
        ours = line.rstrip("\n").partition("  ")[2] == _manifest_name(cluster, node)
        return lambda path: ours and (path == PACK_DIGEST or path.startswith(f"{PACK_FILES}/"))

    return owns


def node_pack(tree: Tree, cluster: str, node: str, values: dict[str, str]) -> Tree:
    """The pack of one node of a rendered tree."""
    bundle = split_bundles(tree)[node]
    line = digest_line(tree, cluster, node)
    pack: Tree = {PACK_DIGEST: Artifact(PACK_DIGEST, line.encode("ascii"), secret=True)}  # a pack is private whole
    for path, artifact in filled_files(bundle, values).items():
        pack[f"{PACK_FILES}/{path}"] = dataclasses.replace(artifact, path=f"{PACK_FILES}/{path}")
    return pack


def materialize(tree: Tree, values: dict[str, str]) -> Tree:
    """The tree with each bundle's pack laid over it: bundles for shipping with their secrets inside."""
    bundles = split_bundles(tree)
    for bundle in bundles.values():
        bundle.update(filled_files(bundle, values))
    return assemble(bundles)
