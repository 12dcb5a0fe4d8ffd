"""The string shapes the topology accepts, as JSON Schema formats.

Each shape is chosen so that a value of that shape is safe in every file it
lands in (shell, nginx, SQL, ini, env, YAML, ``string.Template``) without
escaping; the templates still escape where the language allows it. Each
format carries the sentence that tells the operator what was expected.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from jsonschema import FormatChecker

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_CEPH_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_DB_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DB_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_SECRET_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_INTERFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")  # Linux's IFNAMSIZ, less its NUL
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?")
# Printable text for harbor.cfg values: no quote, backslash, '$', '`', '#' or ';'
# (Python 2's ConfigParser cuts a value at ' ;', compose env files and
# string.Template treat '$' specially, shells treat quotes and backquotes).
_CONFIG_TEXT = re.compile(r"[^\s\"'\\$`#;]([^\x00-\x1f\x7f\"'\\$`#;]{0,254}[^\s\"'\\$`#;])?")


_NOTE = re.compile(r"[^\x00-\x1f\x7f-\x9f]{1,300}")


def is_note(value: str) -> bool:
    return bool(_NOTE.fullmatch(value)) and not value.isspace()


def is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    if not value or len(value) > 253 or value.endswith("."):
        return False
    labels = value.split(".")
    if all(label.isdigit() for label in labels):
        return False  # digits only: a mistyped IPv4 address, not a name
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def is_host(value: str) -> bool:
    return is_ipv4(value) or is_hostname(value)


def is_port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535 and not (len(text) > 1 and text.startswith("0"))


def is_host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep) and is_host(host) and is_port(port)


def is_absolute_path(value: str) -> bool:
    if not value.startswith("/") or value == "/" or value.endswith("/") or len(value) > 1024:
        return False
    return all(_PATH_SEGMENT.fullmatch(segment) for segment in value[1:].split("/"))


def is_relative_path(value: str) -> bool:
    if not value or value.startswith("/") or value.endswith("/") or len(value) > 255:
        return False
    return all(_PATH_SEGMENT.fullmatch(segment) for segment in value.split("/"))


def split_http_url(value: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, explicit port) of an http(s) URL naming only a host, else None."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        return None
    host = parts.hostname or ""
    netloc_host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if netloc_host != host or not is_host(host):
        return None  # uppercase or odd spellings would differ from server_name
    return parts.scheme, host, port


def is_http_url(value: str) -> bool:
    return split_http_url(value) is not None


def is_ldap_url(value: str) -> bool:
    scheme, sep, rest = value.partition("://")
    if scheme not in ("ldap", "ldaps") or not sep:
        return False
    return is_host(rest) or is_host_port(rest)


@dataclass(frozen=True)
class Shape:
    check: Callable[[str], bool]
    noun: str  # what the value is not: "'x' is not <noun>"
    expected: str


SHAPES: dict[str, Shape] = {
    "dns-label": Shape(
        lambda v: bool(_DNS_LABEL.fullmatch(v)), "a DNS label",
        "1 to 63 lowercase letters, digits and '-', not starting or ending with '-'",
    ),
    "ipv4": Shape(is_ipv4, "an IPv4 address", "four numbers from 0 to 255 separated by dots, such as 10.0.0.1"),
    "interface-name": Shape(
        lambda v: bool(_INTERFACE.fullmatch(v)), "a network interface name",
        "1 to 15 letters, digits, '_', '.' and '-', starting with a letter or digit, such as eth0",
    ),
    "host": Shape(is_host, "a host", "an IPv4 address or a DNS host name"),
    "host-port": Shape(is_host_port, "a HOST:PORT address", "HOST:PORT, with HOST an IPv4 address or host name and PORT 1-65535"),
    "absolute-path": Shape(
        is_absolute_path, "an absolute path",
        "an absolute path such as /mnt/cephfs: segments of letters, digits, '.', '_' and '-', "
        "no '..', no trailing '/'",
    ),
    "relative-path": Shape(
        is_relative_path, "a relative path",
        "a relative path such as harbor or logs/node0: segments of letters, digits, '.', '_' and '-', no '..'",
    ),
    "http-url": Shape(is_http_url, "an http(s) URL", "an http:// or https:// URL naming a host and optional port, with no path"),
    "ldap-url": Shape(is_ldap_url, "an LDAP URL", "an ldap:// or ldaps:// URL naming a host and optional port"),
    "ceph-name": Shape(
        lambda v: bool(_CEPH_NAME.fullmatch(v)), "a Ceph name",
        "a lowercase letter, then up to 62 lowercase letters, digits, '_' and '-'",
    ),
    "db-identifier": Shape(
        lambda v: bool(_DB_IDENTIFIER.fullmatch(v)), "a database identifier",
        "a letter or '_', then up to 63 letters, digits and '_'",
    ),
    "db-user": Shape(
        lambda v: bool(_DB_USER.fullmatch(v)), "a MySQL user name",
        "a letter or '_', then up to 31 letters, digits and '_'",
    ),
    "secret-name": Shape(
        lambda v: bool(_SECRET_NAME.fullmatch(v)), "a secret name",
        "a lowercase letter, then up to 63 lowercase letters, digits and '_'",
    ),
    "docker-image": Shape(lambda v: bool(_IMAGE.fullmatch(v)), "a Docker image reference", "a Docker image reference such as nginx:1.26"),
    "note": Shape(
        is_note, "a note",
        "one line of printable text, 1 to 300 characters (it is shown to reviewers, never written into a file)",
    ),
    "config-text": Shape(
        lambda v: bool(_CONFIG_TEXT.fullmatch(v)), "safe configuration text",
        "printable text of at most 256 characters, without leading or trailing spaces, "
        "quotes, backslashes, '$', '`', '#' or ';'",
    ),
}


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, shape in SHAPES.items():
        checker.checks(name)(_string_only(shape.check))
    return checker


def _string_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    # JSON Schema formats apply to strings only; "type" reports the rest.
    return lambda value: not isinstance(value, str) or check(value)
