"""The legality rules: whether a secret value reads back exactly in every language it lands in.

A value is filled in verbatim (SQL string literals double their quotes), so a
value is legal for a context only when that verbatim text reads back exactly.
These rules run in Python only: the machines receive packs of files that
Python filled after checking them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .placeholders import PLACEHOLDER


@dataclass(frozen=True)
class Context:
    key: str
    description: str
    problem: Callable[[str], str | None]


# ConfigParser and env-file readers strip white space at either end of a value,
# and Python's str.strip() also eats non-ASCII white space (U+00A0, U+3000...):
# a value may neither start nor end with white space or a non-ASCII character.
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


def _compose2_env_problem(value: str) -> str | None:
    # docker compose v2 (compose-go's dotenv) expands $VAR and ${VAR} in unquoted values and reads escapes.
    if "$" in value:
        return "contains '$', which docker compose's env-file reader expands"
    if "\\" in value:
        return "contains a backslash, which docker compose's env-file reader may take for an escape"
    return _env_problem(value)


def _yaml_single_quoted_problem(value: str) -> str | None:
    if "'" in value:
        return "contains a single quote, which would end harbor.yml's quoted string"
    return _line_problem(value)


def _redis_conf_problem(value: str) -> str | None:
    if re.search(r"[\s'\"\\]", value):
        return "contains white space, a quote or a backslash, which redis.conf reads as syntax"
    return None


def _bcrypt_problem(value: str) -> str | None:
    if len(value.encode("utf-8")) > 72:
        return "is longer than 72 bytes, the most bcrypt reads (the registry's htpasswd file)"
    return None


def _scram_problem(value: str) -> str | None:
    if not re.fullmatch(r"[\x20-\x7e]+", value):
        return "is not printable ASCII (PostgreSQL's SCRAM would have to normalise it with SASLprep)"
    return None


def _word_problem(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9]+", value):
        return "is not ASCII letters and digits only (what Harbor's prepare makes for it)"
    return None


def _csrf_key_problem(value: str) -> str | None:
    if len(value) != 32:
        return f"is {len(value)} characters long (expected exactly 32: Harbor's core makes a key of its own otherwise, different on every node)"
    return _word_problem(value)


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
        Context("compose2-env", "Harbor 2.15's env files (docker compose env_file)", _compose2_env_problem),
        Context("yaml-single-quoted", "harbor.yml (a single-quoted YAML string)", _yaml_single_quoted_problem),
        Context("redis-conf", "the Redis configuration (redis.conf)", _redis_conf_problem),
        Context("bcrypt", "the registry's htpasswd file (bcrypt)", _bcrypt_problem),
        Context("scram", "the PostgreSQL role's SCRAM-SHA-256 verifier", _scram_problem),
        Context("word", "a secret Harbor's prepare makes of letters and digits", _word_problem),
        Context("csrf-key", "Harbor's CSRF_KEY", _csrf_key_problem),
        Context("template", "a template of Harbor's prepare (string.Template)", _template_problem),
        Context("yaml-plain", "registry config.yml (a plain YAML value)", _yaml_plain_problem),
        Context("sql", "a MySQL string literal", _sql_problem),
        Context("secretkey", "Harbor's secretkey file", _secretkey_problem),
        Context("cephx-key", "the cephx secret file", _cephx_key_problem),
        Context("rsa-private-key", "the token-signing private key (PEM)", _pem_problem("RSA PRIVATE KEY")),
        Context("certificate", "the token-signing certificate (PEM)", _pem_problem("CERTIFICATE")),
    )
}

def value_problems(value: str, contexts: Iterable[str]) -> list[str]:
    """Every reason the value cannot land verbatim in these contexts."""
    problems = []
    if value == "":
        problems.append("is empty")
    elif re.search(r"[\x00-\x09\x0b-\x1f\x7f]", value):
        problems.append("contains a control character")
    elif PLACEHOLDER.search(value):
        problems.append("contains a harborgen placeholder (HARBORGEN_SECRET[...]): a value is never filled twice")
    else:
        for key in sorted(set(contexts)):
            problem = CONTEXTS[key].problem(value)
            if problem:
                problems.append(f"{problem} [{CONTEXTS[key].description}]")
    return problems


# SHA-256 of the public key (SubjectPublicKeyInfo, DER) of token key pairs that are
# public knowledge: whoever holds a copy can sign registry tokens that every node trusts.
PUBLISHED_TOKEN_KEYS = {
    # common/templates/ui/private_key.pem and registry/root.crt of every Harbor 1.1.2 installer
    "fed0de1e3ec8497f36edd6ca7d654333c7254dcac76aefa0f27c6aa398c67706": "the pair every Harbor 1.1.2 installer ships in common/templates",
}


def published_key_problem(pem: str) -> str | None:
    """Why a token private key or certificate must not be used because its pair is published, or None."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if "CERTIFICATE" in pem:
            public_key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        else:
            public_key = serialization.load_pem_private_key(pem.encode(), password=None).public_key()
    except ValueError:
        return None  # not readable at all: the PEM rules say so
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    origin = PUBLISHED_TOKEN_KEYS.get(hashlib.sha256(der).hexdigest())
    if origin is None:
        return None
    return (
        f"belongs to {origin}: it is public, so anyone could sign registry tokens this cluster trusts "
        "(expected a pair of your own: remove token_private_key and token_certificate, then run 'harborgen secrets generate')"
    )


def key_pair_problem(private_pem: str, certificate_pem: str) -> str | None:
    """Why the token key and certificate are not one usable pair, or None."""
    if not _pair_matches(private_pem, certificate_pem):
        return "is not the certificate of token_private_key (expected one key pair)"
    return None


def _pair_matches(private_pem: str, certificate_pem: str) -> bool:
    # Imported here: reading keys is the only use outside generation.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        return False
    # The DER public-key info: every key type has one (only RSA, DSA and EC keys have public_numbers).
    def info(public) -> bytes:
        return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    return info(key.public_key()) == info(certificate.public_key())
