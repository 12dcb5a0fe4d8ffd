"""What changed in one artifact, in the terms of its language: keys, YAML paths, nginx directives, SQL statements.

Each differ takes the old and the new text of one file and returns values,
one Delta per change; generator/review/report.py alone puts them into words.
deepdiff and crossplane are imported here, lazily: `render` never pays for them.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..secrets.placeholders import PLACEHOLDER


@dataclass(frozen=True)
class Delta:
    """One change inside a file: at KEY, OLD became NEW. None: absent on that side; '' an empty value.

    KEY is what the file's language calls the place: a name, a YAML path, an nginx block; '' for a
    file that has no keys (SQL statements, a secret, text)."""

    key: str
    old: str | None
    new: str | None


Differ = Callable[[str, str], list[Delta]]


def _shown(value: Any) -> str:
    return "" if value in ("", None) else str(value)


def _key_changes(old: dict[str, str], new: dict[str, str]) -> list[Delta]:
    return [Delta(key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


def _assignments(text: str, separator: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")) or separator not in stripped:
            continue
        key, _, value = stripped.partition(separator)
        pairs[key.strip()] = value.strip()
    return pairs


def diff_assignments(old: str, new: str) -> list[Delta]:
    """harbor.cfg, systemd drop-ins (`key = value`) and env files (KEY=VALUE): keys, old → new."""
    return _key_changes(_assignments(old, "="), _assignments(new, "="))


def _shell_value(value: str) -> str:
    if value.startswith("(") and value.endswith(")"):
        return " ".join(shlex.split(value[1:-1]))
    return " ".join(shlex.split(value)) if value else ""


def diff_values(old: str, new: str) -> list[Delta]:
    """values.sh: name='value' and name=('a' 'b'), shown unquoted."""
    def parse(text: str) -> dict[str, str]:
        return {key: _shell_value(value) for key, value in _assignments(text, "=").items()}
    return _key_changes(parse(old), parse(new))


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


_DEEPDIFF_PART = re.compile(r"\[('(?:[^'\\]|\\.)*'|\d+)\]")


def _yaml_path(deepdiff_path: str) -> str:
    parts = []
    for part in _DEEPDIFF_PART.findall(deepdiff_path):
        parts.append(f"[{part}]" if part.isdigit() else ("." if parts else "") + part[1:-1])
    return "".join(parts)


def diff_yaml(old: str, new: str) -> list[Delta]:
    """compose files and the registry configuration: YAML paths, old → new."""
    from deepdiff import DeepDiff

    delta = DeepDiff(_yaml(old), _yaml(new), verbose_level=2)
    changes = []
    for kind, entries in sorted(delta.items()):
        for path, value in sorted(entries.items()):
            where = _yaml_path(path)
            if kind in ("values_changed", "type_changes"):
                changes.append(Delta(where, _shown(value["old_value"]), _shown(value["new_value"])))
            elif kind.endswith("_added"):
                changes.append(Delta(where, None, _shown(value)))
            elif kind.endswith("_removed"):
                changes.append(Delta(where, _shown(value), None))
    return changes


def _nginx_directives(text: str) -> dict[str, list[str]]:
    """Block path -> directive lines, from nginx's own parser (crossplane)."""
    import crossplane

    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "default.conf")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        parsed = crossplane.parse(path, single=True, check_ctx=False, check_args=False, comments=False)
    blocks: dict[str, list[str]] = {}

    def walk(directives: list[dict], where: str) -> None:
        for directive in directives:
            line = " ".join([directive["directive"], *directive["args"]])
            if "block" in directive:
                walk(directive["block"], f"{where} > {line}" if where else line)
            else:
                blocks.setdefault(where or "(top)", []).append(line)

    walk(parsed["config"][0]["parsed"], "")
    return blocks


def diff_nginx(old: str, new: str) -> list[Delta]:
    """default.conf: directives by block; a directive set once shows old → new, a repeated one lines added and removed."""
    before, after = _nginx_directives(old), _nginx_directives(new)
    changes = []
    for block in sorted(before.keys() | after.keys()):
        old_lines, new_lines = before.get(block, []), after.get(block, [])
        by_name_old = _by_name(old_lines)
        by_name_new = _by_name(new_lines)
        for name in sorted(by_name_old.keys() | by_name_new.keys()):
            was, now = by_name_old.get(name, []), by_name_new.get(name, [])
            if was == now:
                continue
            if len(was) == 1 and len(now) == 1:
                changes.append(Delta(block, was[0], now[0]))
                continue
            changes += [Delta(block, line, None) for line in _minus(was, now)]
            changes += [Delta(block, None, line) for line in _minus(now, was)]
    return changes


def _by_name(lines: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for line in lines:
        grouped.setdefault(line.split()[0], []).append(line)
    return grouped


def _minus(first: list[str], second: list[str]) -> list[str]:
    remaining = Counter(second)
    result = []
    for item in first:
        if remaining[item]:
            remaining[item] -= 1
        else:
            result.append(item)
    return result


def sql_statements(text: str) -> list[str]:
    """The statements of a script: split at ';' outside quotes, '--' comment lines dropped."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    statements, current, quote = [], [], None
    for character in body:
        if quote:
            quote = None if character == quote else quote
        elif character in "'`\"":
            quote = character
        elif character == ";":
            statements.append(" ".join("".join(current).split()))
            current = []
            continue
        current.append(character)
    tail = " ".join("".join(current).split())
    return statements + ([tail] if tail else [])


def diff_sql(old: str, new: str) -> list[Delta]:
    """SQL: statements added and removed."""
    was, now = sql_statements(old), sql_statements(new)
    return [Delta("", statement, None) for statement in _minus(was, now)] + [Delta("", None, statement) for statement in _minus(now, was)]


def diff_secret_file(old: str, new: str) -> list[Delta]:
    """A file that is one placeholder: which secret it holds, by name; never a value."""
    was, now = PLACEHOLDER.findall(old), PLACEHOLDER.findall(new)
    return [Delta("", ", ".join(was), ", ".join(now))] if was != now else []


def _install_entries(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            when, mode, path, destination, *user = line.split("\t")
            owner = f", owned by {user[0]}" if user and user[0] else ""
            entries[path] = f"{destination} (mode {mode}, {when}{owner})"
    return entries


def diff_install_list(old: str, new: str) -> list[Delta]:
    """INSTALL: where each bundle file is installed, by its path in the bundle."""
    return _key_changes(_install_entries(old), _install_entries(new))


def unified(old: str, new: str, path: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm=""))


def diff_text(old: str, new: str) -> list[Delta]:
    """Scripts and the RUNBOOK: how many lines go and come (old, new); the unified diff travels beside."""
    lines = [line for line in unified(old, new, "x")[2:] if line[:1] in "+-"]
    added, removed = sum(line[0] == "+" for line in lines), sum(line[0] == "-" for line in lines)
    return [Delta("", str(removed), str(added))] if lines else []


# The differs by kind: each row of the artifact catalogue names one. A kind is also how the
# reports phrase its changes.
DIFFERS: dict[str, Differ] = {
    "secret": diff_secret_file,
    "yaml": diff_yaml,
    "env": diff_assignments,
    "ini": diff_assignments,
    "values": diff_values,
    "install": diff_install_list,
    "nginx": diff_nginx,
    "sql": diff_sql,
    "text": diff_text,
}


def describe(kind: str, old: str, new: str) -> tuple[str, list[Delta]]:
    """(kind of the changes, the changes) for one file of one bundle, read by the differ of KIND."""
    changes = DIFFERS[kind](old, new)
    if not changes and old != new:
        return "text", diff_text(old, new)  # a change the structured view does not see (comments, order)
    return kind, changes
