"""Secrets: which ones a cluster needs, where each lands, and whether a value is legal there.

A placeholder ``HARBORGEN_SECRET[name]`` in a rendered file says where a
secret goes; the file's path says in which language it is read. A value is
filled in verbatim (SQL string literals double their quotes), so a value is
legal for a context only when that verbatim text reads back exactly. The
rules below are mirrored in bash by apply.sh (``secret_problem``), and a test
holds the two to the same verdicts.
"""

from __future__ import annotations

import fnmatch
import re
import secrets as random_source
import string
from dataclasses import dataclass
from typing import Callable, Iterable

from .conventions import (
    PLACEHOLDER_PREFIX,
    REGISTRY_HTTP_SECRET,
    SECRETKEY,
    TOKEN_CERTIFICATE,
    TOKEN_PRIVATE_KEY,
)

PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + r"([a-z][a-z0-9_]*)\]")


@dataclass(frozen=True)
class Context:
    key: str
    description: str
    problem: Callable[[str], str | None]


# Every rule below works on characters the way apply.sh's bash does on bytes
# (LC_ALL=C): white space is ASCII white space, and a non-ASCII character at
# either end of a value is refused because Python's strip() may eat it.
_ASCII_SPACE = " \t\n\r\x0b\x0c"


def _ends_problem(value: str) -> str | None:
    for end in (value[0], value[-1]):
        if end in _ASCII_SPACE or ord(end) > 0x7F:
            return "has white space or a non-ASCII character at its start or end, which parsers strip"
    return None


def _line_problem(value: str) -> str | None:
    if "\n" in value:
        return "contains a line break"
    return _ends_problem(value)


def _ini_problem(value: str) -> str | None:
    if re.search(r"[ \t\r\x0b\x0c];", value):
        return "contains white space followed by ';', where Python 2's ConfigParser starts a comment"
    if value == '""':
        return "is '\"\"', which Python 2's ConfigParser reads as empty"
    return _line_problem(value)


def _env_problem(value: str) -> str | None:
    if value[0] in ("'", '"'):
        return "starts with a quote, which docker-compose's env-file reader removes"
    if "#" in value:
        return "contains '#', which docker-compose's env-file reader may take for a comment"
    if "${" in value:
        return "contains '${', which docker-compose's env-file reader expands"
    return _line_problem(value)


def _template_problem(value: str) -> str | None:
    return "contains '$', which Harbor's prepare (string.Template) substitutes" if "$" in value else None


def _yaml_plain_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._~+/=-]*", value):
        return "is not a plain YAML word (expected letters, digits and . _ ~ + / = -)"
    return None


def _sql_problem(value: str) -> str | None:
    if "\\" in value:
        return "contains a backslash, which MySQL reads differently depending on sql_mode"
    return None


def _secretkey_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9]{16}", value):
        return "is not 16 ASCII letters and digits (Harbor's secretkey must be exactly 16 characters)"
    return None


def _cephx_key_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value) or len(value) % 4 or len(value) < 24:
        return "is not a cephx key (expected the base64 text that 'ceph auth get-key' prints)"
    return None


def _pem_problem(label: str) -> Callable[[str], str | None]:
    pattern = re.compile(rf"-----BEGIN {label}-----\n[A-Za-z0-9+/=\n]+-----END {label}-----\n?")

    def problem(value: str) -> str | None:
        if not pattern.fullmatch(value):
            return f"is not a PEM block of type {label}"
        return None

    return problem


CONTEXTS: dict[str, Context] = {
    context.key: context
    for context in (
        Context("ini", "harbor.cfg (RawConfigParser, Python 2 and 3)", _ini_problem),
        Context("compose-env", "the adminserver env file (docker-compose v1 env_file)", _env_problem),
        Context("template", "a template of Harbor's prepare (string.Template)", _template_problem),
        Context("yaml-plain", "registry config.yml (a plain YAML value)", _yaml_plain_problem),
        Context("sql", "a MySQL string literal", _sql_problem),
        Context("secretkey", "Harbor's secretkey file", _secretkey_problem),
        Context("cephx-key", "the cephx secret file", _cephx_key_problem),
        Context("rsa-private-key", "the token-signing private key (PEM)", _pem_problem("RSA PRIVATE KEY")),
        Context("certificate", "the token-signing certificate (PEM)", _pem_problem("CERTIFICATE")),
    )
}

# Which contexts a placeholder is read in, by the bundle file holding it
# (glob on the path inside a node bundle). A rendered placeholder in a file
# not listed here is a bug that a test catches.
FILE_CONTEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("harbor/harbor.cfg", ("ini", "compose-env")),
    ("harbor/common/templates/registry/config.yml", ("template", "yaml-plain")),
    ("harbor/common/templates/ui/private_key.pem", ("rsa-private-key",)),
    ("harbor/common/templates/registry/root.crt", ("certificate",)),
    ("shared/secretkey", ("secretkey",)),
    ("ceph/*.secret", ("cephx-key",)),
    ("database/*.sql", ("sql",)),
)

# File formats apply.sh and materialize fill differently: only SQL escapes.
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


def value_problems(value: str, contexts: Iterable[str]) -> list[str]:
    """Every reason the value cannot land verbatim in these contexts."""
    problems = []
    if value == "":
        problems.append("is empty")
    elif re.search(r"[\x00-\x09\x0b-\x1f\x7f]", value):
        problems.append("contains a control character")
    else:
        for key in sorted(set(contexts)):
            problem = CONTEXTS[key].problem(value)
            if problem:
                problems.append(f"{problem} [{CONTEXTS[key].description}]")
    return problems


def fill_text(text: str, values: dict[str, str], *, sql: bool) -> str:
    """Replace every placeholder by its value; in SQL string literals quotes are doubled."""

    def replacement(match: re.Match) -> str:
        value = values[match.group(1)]
        return value.replace("'", "''") if sql else value

    return PLACEHOLDER.sub(replacement, text)


# Generation. Passwords use an alphabet that is legal in every context above.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.:+=@%^!~*"
PASSWORD_LENGTH = 24
ALNUM = string.ascii_letters + string.digits


def random_text(alphabet: str, length: int) -> str:
    return "".join(random_source.choice(alphabet) for _ in range(length))


def generated_kind(name: str) -> str:
    """How harborgen makes a value for the secret: by name, as conventions names them."""
    return {
        SECRETKEY: "secretkey",
        REGISTRY_HTTP_SECRET: "http-secret",
        TOKEN_PRIVATE_KEY: "token-key-pair",
        TOKEN_CERTIFICATE: "token-key-pair",
    }.get(name, "password")
