"""Where secrets land: the placeholders in a rendered tree, and the languages each one is read in.

A placeholder ``HARBORGEN_SECRET[name]`` in a rendered file says where a
secret goes; the file's path inside its bundle says in which languages the
filled value is read. Filling is one pass over the text (a value is never
filled twice) and the only escape is SQL's doubled quote.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from .conventions import PLACEHOLDER_PREFIX

if TYPE_CHECKING:
    from .bundle import Tree

PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"([a-z][a-z0-9_]*)\]")

# Which contexts (generator/legality.py) a placeholder is read in, by the bundle
# file holding it (glob on the path inside a node bundle). A rendered
# placeholder in a file not listed here is a bug that a test catches.
FILE_CONTEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("harbor/harbor.cfg", ("ini", "compose-env")),
    ("harbor/common/templates/registry/config.yml", ("template", "yaml-plain")),
    ("harbor/common/templates/ui/private_key.pem", ("rsa-private-key",)),
    ("harbor/common/templates/registry/root.crt", ("certificate",)),
    ("shared/secretkey", ("secretkey",)),
    ("ceph/*.secret", ("cephx-key",)),
    ("database/*.sql", ("sql",)),
)

# The only files whose filling escapes: SQL string literals double their quotes.
SQL_FILES = "database/*.sql"


def contexts_of_file(bundle_path: str) -> tuple[str, ...]:
    for pattern, contexts in FILE_CONTEXTS:
        if fnmatch.fnmatchcase(bundle_path, pattern):
            return contexts
    return ()


def placeholders_in(content: bytes) -> list[str]:
    return PLACEHOLDER.findall(content.decode("utf-8", errors="replace"))


def needed_in_bundle(contents: dict[str, bytes]) -> dict[str, frozenset[str]]:
    """Secret name -> contexts, for the placeholders of one node bundle (paths inside the bundle)."""
    needed: dict[str, set[str]] = {}
    for path, content in contents.items():
        for name in placeholders_in(content):
            needed.setdefault(name, set()).update(contexts_of_file(path))
    return {name: frozenset(contexts) for name, contexts in sorted(needed.items())}


def needed_secrets(tree: Tree) -> dict[str, frozenset[str]]:
    """Every secret the rendered tree holds a placeholder for, with the contexts it lands in."""
    by_node: dict[str, dict[str, bytes]] = {}
    for path, artifact in tree.items():
        node, _, bundle_path = path.partition("/")
        by_node.setdefault(node, {})[bundle_path] = artifact.content
    needed: dict[str, set[str]] = {}
    for contents in by_node.values():
        for name, contexts in needed_in_bundle(contents).items():
            needed.setdefault(name, set()).update(contexts)
    return {name: frozenset(contexts) for name, contexts in sorted(needed.items())}


def fill(content: bytes, bundle_path: str, values: dict[str, str]) -> bytes:
    """The file with every placeholder replaced by its value, in one pass."""
    sql = fnmatch.fnmatchcase(bundle_path, SQL_FILES)

    def replacement(match: re.Match) -> str:
        value = values[match.group(1)]
        return value.replace("'", "''") if sql else value

    return PLACEHOLDER.sub(replacement, content.decode("utf-8")).encode("utf-8")
