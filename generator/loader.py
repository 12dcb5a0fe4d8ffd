"""Stage 1: read a YAML document into plain data plus the position of every value.

The topology is security-relevant input (it ends up in shell scripts and SQL),
so the loader refuses whatever YAML can do that a topology never needs:
explicit tags (``!!python/...``), anchors and aliases (expansion bombs),
several documents, tab characters and a root that is not a mapping.
"""

from __future__ import annotations

import datetime
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
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


def read_bounded(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes of a regular file: enough to refuse a larger one without reading it all."""
    # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(_file_kind(mode))
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
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False  # the event scan reports them first, with their paths
    try:
        problems = _forbidden_constructs(yaml, text, name)
        if problems:
            raise InputError(problems)
        document = yaml.load(text)
    except MarkedYAMLError as error:
        raise InputError([_syntax_diagnostic(error, name)]) from error
    except YAMLError as error:
        raise InputError([Diagnostic(name, 1, 1, "", f"not a YAML document: {error}")]) from error

    if not isinstance(document, CommentedMap):
        kind = "empty" if document is None else ("a list" if isinstance(document, CommentedSeq) else "a single value")
        raise InputError([Diagnostic(name, 1, 1, "", f"the document is {kind} (expected a mapping at the top level)")])
    value_positions: dict[Path_, tuple[int, int]] = {(): (1, 1)}
    key_positions: dict[Path_, tuple[int, int]] = {}
    data = _plain(document, (), value_positions, key_positions)
    return Located(name, data, value_positions, key_positions)


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


def _forbidden_constructs(yaml: YAML, text: str, name: str) -> list[Diagnostic]:
    """Scan parser events, which expand nothing, for what the loader refuses: all of it at once."""
    problems = []
    documents = 0
    aliases_reported: set[str] = set()
    paths = _EventPaths()

    def refuse(event, message: str, path: Path_ = ()) -> None:
        line, column = event.start_mark.line + 1, event.start_mark.column + 1
        problems.append(Diagnostic(name, line, column, dotted(path), message))

    for event in yaml.parse(text):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents == 2:
                refuse(event, "a second YAML document (expected exactly one)")
        elif isinstance(event, CollectionEndEvent):
            paths.leave()
        elif isinstance(event, NodeEvent):
            path, is_key, keys = paths.slot()
            if isinstance(event, AliasEvent):
                if event.anchor not in aliases_reported:  # one line per anchor name finds them all
                    aliases_reported.add(event.anchor)
                    refuse(event, f"alias '*{event.anchor}' (anchors and aliases are not accepted: write the value out)", path)
            else:
                if event.anchor is not None:
                    refuse(event, f"anchor '&{event.anchor}' (anchors and aliases are not accepted: write the value out)", path)
                if _explicit_tag(event) is not None:
                    refuse(event, f"tag '{_explicit_tag(event)}' (explicit YAML tags are not accepted)", path)
            if isinstance(event, ScalarEvent):
                text_problem = _text_problem(event.value)
                if text_problem:
                    refuse(event, text_problem, path)
                if is_key and event.value == "<<" and event.style is None:
                    refuse(event, "merge key '<<' (merge keys are not accepted: write the keys out)", path)
            key_text = event.value if is_key and isinstance(event, ScalarEvent) else None
            if key_text is not None and keys is not None:
                if key_text in keys:
                    refuse(event, f"duplicate key {key_text!r} (each key may appear once per mapping)", (*path, key_text))
                keys.add(key_text)
            if isinstance(event, CollectionStartEvent):
                paths.enter(isinstance(event, MappingStartEvent))
            else:
                paths.advance(key_text)
    return problems


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


def _plain(node: Any, path: Path_, values: dict, keys: dict) -> Any:
    """Convert ruamel's round-trip types to plain Python, recording positions."""
    if isinstance(node, CommentedMap):
        result = {}
        for key in node:
            child = (*path, str(key))
            key_line, key_column = node.lc.key(key)
            value_line, value_column = node.lc.value(key)
            keys[child] = (key_line + 1, key_column + 1)
            values[child] = (value_line + 1, value_column + 1)
            result[str(key)] = _plain(node[key], child, values, keys)
        return result
    if isinstance(node, CommentedSeq):
        result_list = []
        for index, item in enumerate(node):
            child = (*path, index)
            item_line, item_column = node.lc.item(index)
            values[child] = keys[child] = (item_line + 1, item_column + 1)
            result_list.append(_plain(item, child, values, keys))
        return result_list
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return bool(node) if type(node).__name__ == "ScalarBoolean" else int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    return str(node)
