"""Where secrets land: the placeholders in a rendered tree, and the languages each one is read in.

A placeholder ``HARBORGEN_SECRET[name]`` in a rendered file says where a
secret goes; the file's path inside its bundle says in which languages the
filled value is read. Filling is one pass over the text (a value is never
filled twice) and the only escape is SQL's doubled quote.

``HARBORGEN_SECRET[name|form]`` stands for a form Python derives from the
value when filling (``derived``): a bcrypt hash for an htpasswd line, a
SCRAM verifier for PostgreSQL. Both are deterministic, so every node and
every rerun gets the same bytes.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from .conventions import CORE_SECRET, CSRF_KEY, JOBSERVICE_SECRET, PLACEHOLDER_PREFIX, ROBOT_SCANNER_PREFIX

if TYPE_CHECKING:
    from .bundle import Tree

PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"([a-z][a-z0-9_]*)(?:\|([a-z]+))?\]")

# Which contexts (generator/legality.py) a placeholder is read in, by the bundle
# file holding it (glob on the path inside a node bundle). A rendered
# placeholder in a file not listed here is a bug that a test catches.
FILE_CONTEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("harbor/harbor.cfg", ("ini", "compose-env")),
    # Harbor 2.15: prepare copies harbor.yml's passwords into env files that docker compose reads.
    ("harbor/harbor.yml", ("yaml-single-quoted", "compose2-env")),
    ("harbor/harborgen/pins/*.env", ("compose2-env",)),
    ("harbor/harborgen/pins/registry-config.yml", ("yaml-plain",)),
    ("secret/keys/secretkey", ("secretkey",)),
    ("secret/core/private_key.pem", ("rsa-private-key",)),
    ("secret/registry/root.crt", ("certificate",)),
    ("redis/*.conf", ("redis-conf",)),
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


# What a derived form asks of the value it is made from (contexts of generator/legality.py).
FORM_CONTEXTS = {"bcrypt": ("bcrypt",), "scram": ("scram",)}

# What Harbor's Go code asks of a pinned secret itself, wherever it lands.
NAMED_CONTEXTS = {
    CSRF_KEY: ("csrf-key",),
    CORE_SECRET: ("word",),
    JOBSERVICE_SECRET: ("word",),
    ROBOT_SCANNER_PREFIX: ("word",),
}


def placeholders_in(content: bytes) -> list[str]:
    """The secret names of every placeholder, derived forms included."""
    return [name for name, _ in placeholder_uses(content)]


def placeholder_uses(content: bytes) -> list[tuple[str, str]]:
    """(name, form) of every placeholder; form is '' for the value itself."""
    return PLACEHOLDER.findall(content.decode("utf-8", errors="replace"))


def needed_in_bundle(contents: dict[str, bytes]) -> dict[str, frozenset[str]]:
    """Secret name -> contexts, for the placeholders of one node bundle (paths inside the bundle)."""
    needed: dict[str, set[str]] = {}
    for path, content in contents.items():
        for name, form in placeholder_uses(content):
            contexts = FORM_CONTEXTS[form] if form else contexts_of_file(path)
            needed.setdefault(name, set()).update(contexts, NAMED_CONTEXTS.get(name, ()))
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
    """The file with every placeholder replaced by its value (or derived form), in one pass."""
    sql = fnmatch.fnmatchcase(bundle_path, SQL_FILES)

    def replacement(match: re.Match) -> str:
        name, form = match.group(1), match.group(2)
        value = derived(form, name, values[name]) if form else values[name]
        return value.replace("'", "''") if sql else value

    return PLACEHOLDER.sub(replacement, content.decode("utf-8")).encode("utf-8")


def derived(form: str, name: str, value: str) -> str:
    # Imported here: only filling pays for bcrypt.
    from .derivations import DERIVATIONS

    return DERIVATIONS[form](name, value)
