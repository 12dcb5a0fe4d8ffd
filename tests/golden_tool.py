"""`make golden`: render every golden topology into golden/<name>/, for review as a diff.

Only rendered files go into golden/. Manifests stay out (a template change
would otherwise rewrite every manifest beside the files that really changed)
and so do the plain scripts, which every bundle ships byte for byte from
templates/scripts/; tests prove both on their own. The seed's render is out/,
which `check` proves.
"""

from __future__ import annotations

import sys

from generator.bundle import MANIFEST, Tree
from generator.writer import write_tree
from tests.helpers import GOLDEN, compiled, golden_topologies


def reviewable(tree: Tree) -> Tree:
    """The rendered files of a tree: no manifest, no plain script."""
    return {
        path: artifact for path, artifact in tree.items()
        if path.rsplit("/", 1)[-1] != MANIFEST and not artifact.executable
    }


def main() -> int:
    for name, topology in golden_topologies().items():
        _, tree = compiled(topology)
        result = write_tree(reviewable(tree), GOLDEN / name)
        print(f"golden/{name}: {len(result.written)} written, {len(result.removed)} removed, {result.unchanged} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
