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


def balancer_nodes(document: Document) -> list[tuple[tuple, str]]:
    """(path, name) of each load-balancer node the document names: node, and every one of nodes."""
    balancer = document["load_balancer"]
    single = [(("load_balancer", "node"), balancer["node"])] if "node" in balancer else []
    return single + [(("load_balancer", "nodes", index), name) for index, name in enumerate(balancer.get("nodes", []))]


def secret_references(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, name) of every {secret: name} in a document."""
    if isinstance(value, dict):
        if set(value) == {"secret"} and isinstance(value["secret"], str):
            yield path, value["secret"]
            return
        for key, child in value.items():
            yield from secret_references(child, (*path, key))
