"""A topology document that passed the schema, with its defaults: what the cross-checks of every target read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .errors import Diagnostic
from .loader import Located

Document = dict[str, Any]
CrossCheck = Callable[[Document, Located], Iterator[Diagnostic]]


def nodes_with(document: Document, role: str) -> list[str]:
    return [name for name, node in document["nodes"].items() if role in node["roles"]]


# The sections that name one machine (node) or a group of them on a floating address (nodes), and
# the role each machine of theirs holds.
GROUPS = {"load_balancer": "load-balancer", "database": "database"}


def group_nodes(document: Document, section: str) -> list[tuple[tuple, str]]:
    """(path, name) of each node SECTION names: its node, and every one of its nodes."""
    spec = document.get(section, {})
    single = [((section, "node"), spec["node"])] if "node" in spec else []
    return single + [((section, "nodes", index), name) for index, name in enumerate(spec.get("nodes", []))]


def secret_references(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, name) of every {secret: name} in a document."""
    if isinstance(value, dict):
        if set(value) == {"secret"} and isinstance(value["secret"], str):
            yield path, value["secret"]
            return
        for key, child in value.items():
            yield from secret_references(child, (*path, key))
