"""Stage 1: read a YAML document into plain data plus the position of every value.

The topology is security-relevant input (it ends up in shell scripts and SQL),
so the loader refuses whatever YAML can do that a topology never needs:
explicit tags (``!!python/...``), anchors and aliases (expansion bombs),
several documents, tab characters and a root that is not a mapping.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from .errors import Diagnostic, InputError

MAX_DOCUMENT_BYTES = 1024 * 1024

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A loaded document: plain data, and where each value and key stands in the file."""

    file: str
    data: dict[str, Any]
    value_positions: dict[Path_, tuple[int, int]] = field(repr=False)
    key_positions: dict[Path_, tuple[int, int]] = field(repr=False)

    def position(self, path: Path_, *, of_key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value at path, or of its key.

        A path that does not exist (a missing key) falls back to its nearest
        existing parent, which is where the operator has to add it.
        """
        table = self.key_positions if of_key else self.value_positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.value_positions:
                return self.value_positions[probe]
            probe = probe[:-1]
        return self.value_positions.get((), (1, 1))

    def diagnostic(self, path: Path_, message: str, *, of_key: bool = False) -> Diagnostic:
        line, column = self.position(path, of_key=of_key)
        return Diagnostic(self.file, line, column, dotted(path), message)


def dotted(path: Path_) -> str:
    """``('nodes', 'node0', 'roles', 1)`` -> ``nodes.node0.roles[1]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_file(path: Path) -> Located:
    name = str(path)
    try:
        raw = read_bounded(path, MAX_DOCUMENT_BYTES)
    except OSError as error:
        raise InputError([Diagnostic(name, 1, 1, "", f"cannot read the file ({error.strerror})")]) from error
    except NotARegularFile as error:
        raise InputError([Diagnostic(name, 1, 1, "", f"is {error} (expected a regular file)")]) from error
    return load_text(raw, name)


class NotARegularFile(Exception):
    """The path names a FIFO, a device, a directory or a socket: reading it could hang or never end."""


def read_bounded(path: Path, limit: int, *, follow_links: bool = True,
                 admit: Callable[[os.stat_result], None] | None = None) -> bytes:
    """At most limit + 1 bytes of a regular file: enough to refuse a larger one without reading it all.

    follow_links=False: a link is refused (OSError ELOOP). admit: called with the status of the
    descriptor that is then read, to refuse it by raising: a check on the path could be raced.
    """
    # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotARegularFile(_file_kind(status.st_mode))
        if admit is not None:
            admit(status)
        chunks, remaining = [], limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def load_text(raw: bytes, name: str) -> Located:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InputError([Diagnostic(name, 1, 1, "", f"the document is over {MAX_DOCUMENT_BYTES} bytes (expected at most {MAX_DOCUMENT_BYTES})")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError([Diagnostic(name, line, 1, "", "the file is not valid UTF-8")]) from error

    problems = _tab_problems(text, name)
    if problems:
        raise InputError(problems)
    try:
        scan = _scan(text, name)
    except MarkedYAMLError as error:
        raise InputError([_syntax_diagnostic(error, name)]) from error
    except YAMLError as error:
        raise InputError([Diagnostic(name, 1, 1, "", f"not a YAML document: {error}")]) from error
    if scan.problems:
        raise InputError(scan.problems)
    if not isinstance(scan.root, dict):
        kind = "empty" if scan.root is None else ("a list" if isinstance(scan.root, list) else "a single value")
        raise InputError([Diagnostic(name, 1, 1, "", f"the document is {kind} (expected a mapping at the top level)")])
    return Located(name, scan.root, scan.values, scan.keys)


def _tab_problems(text: str, name: str) -> list[Diagnostic]:
    return [
        Diagnostic(name, number, line.index("\t") + 1, "", "tab character (expected spaces; YAML indentation cannot use tabs)")
        for number, line in enumerate(text.splitlines(), start=1)
        if "\t" in line
    ]


class _EventPaths:
    """Follows parser events to know the field path of each node, without building the document."""

    def __init__(self) -> None:
        # Per open collection: [path, is_mapping, next index or current key, expecting a key, keys seen]
        self._stack: list[list] = []

    def slot(self) -> tuple[Path_, bool, set[str] | None]:
        """(path of the node about to come, whether it is a mapping key, keys seen in its mapping)."""
        if not self._stack:
            return (), False, None
        path, is_mapping, current, expecting_key, keys = self._stack[-1]
        if not is_mapping:
            return (*path, current), False, None
        return (path if expecting_key else (*path, current)), expecting_key, keys

    def enter(self, is_mapping: bool) -> None:
        path = self.slot()[0]
        self._stack.append([path, is_mapping, None if is_mapping else 0, True, set()])

    def leave(self) -> None:
        self._stack.pop()
        self.advance(None)

    def advance(self, key_text: str | None) -> None:
        if not self._stack:
            return
        frame = self._stack[-1]
        if not frame[1]:
            frame[2] += 1
        elif frame[3]:
            frame[2], frame[3] = key_text if key_text is not None else "?", False
        else:
            frame[3] = True


class _Scan:
    """One pass over the parser's events: what the loader refuses, and otherwise the plain data with positions.

    Events expand nothing, so an alias bomb costs no more than its text; the data
    is built from them directly (YAML 1.2 core types), without a second parse.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Diagnostic] = []
        self.root: Any = None
        self.values: dict[Path_, tuple[int, int]] = {(): (1, 1)}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self._resolver = VersionedResolver()

    def refuse(self, event, message: str, path: Path_ = ()) -> None:
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        self.problems.append(Diagnostic(self.name, line, column, dotted(path), message))

    def place(self, path: Path_, value: Any, event) -> None:
        """Put a value (a scalar, or a new empty collection) at path, recording where it stands."""
        position = (event.start_mark.line + 1, event.start_mark.column + 1)
        if not path:
            self.root = value
            return
        parent = self.root
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, list):
            parent.append(value)
            self.keys[path] = position
        else:
            parent[path[-1]] = value
        self.values[path] = position

    def scalar_value(self, event: ScalarEvent) -> Any:
        tag = event.tag if event.tag is not None else self._resolver.resolve(ScalarNode, event.value, event.implicit)
        return _core_value(str(getattr(tag, "value", tag)), event.value)


def _events(text: str) -> list:
    """The parser's events: from the C parser (ruamel.yaml.clib) when it is there, ten times faster.

    A document it refuses is parsed again by the pure-Python parser, so that a
    syntax error reads the same on every machine, with or without the C library.
    """
    try:
        return list(YAML(typ="safe").parse(text))
    except YAMLError:
        return list(YAML(typ="safe", pure=True).parse(text))


def _scan(text: str, name: str) -> _Scan:
    scan = _Scan(name)
    documents = 0
    aliases_reported: set[str] = set()
    paths = _EventPaths()
    for event in _events(text):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents == 2:
                scan.refuse(event, "a second YAML document (expected exactly one)")
        elif isinstance(event, CollectionEndEvent):
            paths.leave()
        elif isinstance(event, NodeEvent):
            path, is_key, keys = paths.slot()
            _check_node(scan, event, path, is_key, keys, aliases_reported)
            key_text = event.value if is_key and isinstance(event, ScalarEvent) else None
            if is_key:
                if key_text is None:
                    scan.refuse(event, "a key that is not a plain name (expected a name such as 'nodes')", path)
                else:
                    scan.keys[(*path, key_text)] = (event.start_mark.line + 1, event.start_mark.column + 1)
            elif documents < 2 and not scan.problems:
                value = {} if isinstance(event, MappingStartEvent) else [] if isinstance(event, CollectionStartEvent) else None
                scan.place(path, scan.scalar_value(event) if isinstance(event, ScalarEvent) else value, event)
            if isinstance(event, CollectionStartEvent):
                paths.enter(isinstance(event, MappingStartEvent))
            else:
                paths.advance(key_text)
    return scan


def _check_node(scan: _Scan, event: NodeEvent, path: Path_, is_key: bool, keys: set[str] | None, aliases_reported: set[str]) -> None:
    """Refuse what a topology never needs: aliases, anchors, tags, merge keys, duplicate keys, unprintable text."""
    if isinstance(event, AliasEvent):
        if event.anchor not in aliases_reported:  # one line per anchor name finds them all
            aliases_reported.add(event.anchor)
            scan.refuse(event, f"alias '*{event.anchor}' (anchors and aliases are not accepted: write the value out)", path)
        return
    if event.anchor is not None:
        scan.refuse(event, f"anchor '&{event.anchor}' (anchors and aliases are not accepted: write the value out)", path)
    if _explicit_tag(event) is not None:
        scan.refuse(event, f"tag '{_explicit_tag(event)}' (explicit YAML tags are not accepted)", path)
    if not isinstance(event, ScalarEvent):
        return
    text_problem = _text_problem(event.value)
    if text_problem:
        scan.refuse(event, text_problem, path)
    if is_key and event.value == "<<" and not event.style:  # plain: None, or "" from the C parser
        scan.refuse(event, "merge key '<<' (merge keys are not accepted: write the keys out)", path)
    if is_key and keys is not None:
        if event.value in keys:
            scan.refuse(event, f"duplicate key {event.value!r} (each key may appear once per mapping)", (*path, event.value))
        keys.add(event.value)


_INTEGER_PREFIXES = (("0o", 8), ("0x", 16), ("0b", 2))


def _core_value(tag: str, text: str) -> Any:
    """The value of a scalar under the tag the resolver gave it; anything else stays text."""
    kind = tag.rsplit(":", 1)[-1]
    try:
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() == "true"
        if kind == "int":
            sign = -1 if text.startswith("-") else 1
            digits = text.lstrip("+-").replace("_", "")
            base = next((base for prefix, base in _INTEGER_PREFIXES if digits.lower().startswith(prefix)), 10)
            return sign * int(digits[2:] if base != 10 else digits, base)
        if kind == "float":
            lowered = text.lower().replace("_", "")
            if lowered.lstrip("+-") in (".inf", ".nan"):
                return float(lowered.replace(".", ""))
            return float(lowered)
    except ValueError:
        return text
    return text


# Characters that change how text is shown without showing themselves: a committed
# render that people review must not hide them (bidi embeddings, overrides and
# isolates; zero-width space, joiners and the byte-order mark).
INVISIBLE_CHARACTERS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u200b", "\u200c", "\u200d", "\ufeff"]
)


def _text_problem(text: str) -> str | None:
    """Why a scalar's text cannot be carried into a file, or None."""
    for character in text:
        if 0xD800 <= ord(character) <= 0xDFFF:
            return f"contains a lone surrogate U+{ord(character):04X}, which is not valid UTF-8 (expected real characters)"
        if character in INVISIBLE_CHARACTERS:
            name = unicodedata.name(character, "an invisible character")
            return f"contains U+{ord(character):04X} ({name}), which is invisible in review (expected visible text only)"
    return None


def _explicit_tag(event: NodeEvent) -> str | None:
    tag = getattr(event, "tag", None)
    if tag is None:
        return None
    text = str(getattr(tag, "value", tag))
    if isinstance(event, CollectionStartEvent) and not text:
        return None
    return text or None


def _syntax_diagnostic(error: MarkedYAMLError, name: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = error.problem or error.context or "invalid YAML"
    return Diagnostic(name, line, column, "", f"YAML syntax error: {what}")
