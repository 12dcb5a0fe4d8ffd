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


def secret_references(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, name) of every {secret: name} in a document."""
    if isinstance(value, dict):
        if set(value) == {"secret"} and isinstance(value["secret"], str):
            yield path, value["secret"]
            return
        for key, child in value.items():
            yield from secret_references(child, (*path, key))
