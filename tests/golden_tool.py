"""`make golden`: render every golden topology into golden/<name>/, for review as a diff."""

from __future__ import annotations

import sys

from generator.writer import write_tree
from tests.conftest import GOLDEN, compiled, golden_topologies


def main() -> int:
    for name, topology in golden_topologies().items():
        _, tree = compiled(topology)
        result = write_tree(tree, GOLDEN / name)
        print(f"golden/{name}: {len(result.written)} written, {len(result.removed)} removed, {result.unchanged} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
