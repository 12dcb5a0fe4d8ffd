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
from tests.diff_cases import CASES, case_files, write_cases
from tests.helpers import GOLDEN, ROOT, compiled, golden_topologies, run_cli


def reviewable(tree: Tree) -> Tree:
    """The rendered files of a tree: no manifest, no plain script."""
    return {
        path: artifact for path, artifact in tree.items()
        if path.rsplit("/", 1)[-1] != MANIFEST and not artifact.executable
    }


DIFF_FORMATS = {"txt": "text", "md": "markdown", "json": "json"}


def diff_output(name: str, suffix: str) -> str:
    """`harborgen diff` of one scenario, run from the repository with relative paths, as a reviewer would."""
    base, new = (str(path.relative_to(ROOT)) for path in case_files(name))
    code, stdout, stderr = run_cli("diff", base, new, "--format", DIFF_FORMATS[suffix])
    assert code == 0, stderr
    return stdout


def main() -> int:
    for name, topology in golden_topologies().items():
        _, tree = compiled(topology)
        result = write_tree(reviewable(tree), GOLDEN / name)
        print(f"golden/{name}: {len(result.written)} written, {len(result.removed)} removed, {result.unchanged} unchanged")
    write_cases()
    (GOLDEN / "diff").mkdir(exist_ok=True)
    for name in CASES:
        for suffix in DIFF_FORMATS:
            (GOLDEN / "diff" / f"{name}.{suffix}").write_text(diff_output(name, suffix))
    print(f"golden/diff: {len(CASES)} scenarios")
    return 0


if __name__ == "__main__":
    sys.exit(main())
