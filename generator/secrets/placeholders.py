"""Where secrets land: the placeholders in a rendered tree, and the languages each one is read in.

A placeholder ``HARBORGEN_SECRET[name]`` in a rendered file says where a
secret goes; the file's row of the artifact catalogue says in which languages
the filled value is read (``Artifact.contexts``). Filling is one pass over the text (a value is never
filled twice) and the only escape is SQL's doubled quote.

``HARBORGEN_SECRET[name|form]`` stands for a form Python derives from the
value when filling (``derived``): a bcrypt hash for an htpasswd line, a
SCRAM verifier for PostgreSQL. Both are deterministic, so every node and
every rerun gets the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifacts import Artifact
    from ..bundle import Tree
    from .managed import ManagedSecret

# A placeholder stands where a secret value will be filled in on the machine.
# Its characters are plain in every language the bundles use (ini, env,
# YAML plain scalars, SQL string literals, string.Template), so the
# committed render stays valid and shows exactly which secret goes where.
PLACEHOLDER_PREFIX = "HARBORGEN_SECRET["
PLACEHOLDER_SUFFIX = "]"
PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"([a-z][a-z0-9_]*)(?:\|([a-z]+))?\]")

# What a derived form asks of the value it is made from (contexts of generator/secrets/legality.py).
FORM_CONTEXTS = {"bcrypt": ("bcrypt",), "scram": ("scram",)}



def placeholder(secret_name: str, derived: str | None = None) -> str:
    """Where a secret lands; with DERIVED (bcrypt, scram), a form of it that Python computes when filling."""
    suffix = f"|{derived}" if derived else ""
    return f"{PLACEHOLDER_PREFIX}{secret_name}{suffix}{PLACEHOLDER_SUFFIX}"


def placeholders_in(content: bytes) -> list[str]:
    """The secret names of every placeholder, derived forms included."""
    return [name for name, _ in placeholder_uses(content)]


def placeholder_uses(content: bytes) -> list[tuple[str, str]]:
    """(name, form) of every placeholder; form is '' for the value itself."""
    return PLACEHOLDER.findall(content.decode("utf-8", errors="replace"))


def needed_in_bundle(artifacts: Iterable[Artifact], managed: Iterable[ManagedSecret] = ()) -> dict[str, frozenset[str]]:
    """Secret name -> contexts, for the placeholders of one node bundle; MANAGED adds what their consumers ask."""
    asks = {secret.name: secret.asks for secret in managed}
    needed: dict[str, set[str]] = {}
    for artifact in artifacts:
        for name, form in placeholder_uses(artifact.content):
            contexts = FORM_CONTEXTS[form] if form else artifact.contexts
            needed.setdefault(name, set()).update(contexts, asks.get(name, ()))
    return {name: frozenset(contexts) for name, contexts in sorted(needed.items())}


def needed_secrets(tree: Tree, managed: Iterable[ManagedSecret] = ()) -> dict[str, frozenset[str]]:
    """Every secret the rendered tree holds a placeholder for, with the contexts it lands in
    (and, for the MANAGED ones, what their consumers ask of them)."""
    managed = tuple(managed)
    by_node: dict[str, list[Artifact]] = {}
    for path, artifact in tree.items():
        by_node.setdefault(path.partition("/")[0], []).append(artifact)
    needed: dict[str, set[str]] = {}
    for artifacts in by_node.values():
        for name, contexts in needed_in_bundle(artifacts, managed).items():
            needed.setdefault(name, set()).update(contexts)
    return {name: frozenset(contexts) for name, contexts in sorted(needed.items())}


def fill(artifact: Artifact, values: dict[str, str]) -> bytes:
    """The file with every placeholder replaced by its value (or derived form), in one pass."""
    sql = "sql" in artifact.contexts

    def replacement(match: re.Match) -> str:
        name, form = match.group(1), match.group(2)
        value = derived(form, name, values[name]) if form else values[name]
        return value.replace("'", "''") if sql else value

    return PLACEHOLDER.sub(replacement, artifact.content.decode("utf-8")).encode("utf-8")


def derived(form: str, name: str, value: str) -> str:
    # Imported here: only filling pays for bcrypt.
    from .derivations import DERIVATIONS

    return DERIVATIONS[form](name, value)
