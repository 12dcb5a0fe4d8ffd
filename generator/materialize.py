"""Bundles with every placeholder filled, for shipping straight to the machines."""

from __future__ import annotations

import dataclasses
import fnmatch

from .bundle import Tree, assemble, split_bundles
from .secrets import SQL_FILES, fill_text, placeholders_in


def materialize(tree: Tree, values: dict[str, str]) -> Tree:
    """The tree with secrets filled in (checked beforehand); files that hold one are marked secret."""
    bundles = split_bundles(tree)
    for bundle in bundles.values():
        for path, artifact in bundle.items():
            if placeholders_in(artifact.content):
                text = fill_text(artifact.content.decode("utf-8"), values, sql=fnmatch.fnmatchcase(path, SQL_FILES))
                bundle[path] = dataclasses.replace(artifact, content=text.encode("utf-8"), secret=True)
    return assemble(bundles)
