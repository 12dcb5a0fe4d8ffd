"""What changed in one artifact, in the terms of its language: keys, YAML paths, nginx directives, SQL statements.

Each differ takes the old and the new text of one file and returns sentences,
one per change. deepdiff and crossplane are imported here, lazily: `render`
never pays for them.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import shlex
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import Any

from .placeholders import PLACEHOLDER

Differ = Callable[[str, str], list[str]]


def code(text: Any) -> str:
    """Text as a Markdown code span, whatever backticks it holds (it reads well in a terminal too)."""
    text = str(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _show(value: Any) -> str:
    return "(empty)" if value in ("", None) else code(value)


def _key_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append(f"{code(key)} removed (was {_show(old[key])})")
        elif key not in old:
            changes.append(f"{code(key)} added: {_show(new[key])}")
        elif old[key] != new[key]:
            changes.append(f"{code(key)} {_show(old[key])} → {_show(new[key])}")
    return changes


def _assignments(text: str, separator: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")) or separator not in stripped:
            continue
        key, _, value = stripped.partition(separator)
        pairs[key.strip()] = value.strip()
    return pairs


def diff_assignments(old: str, new: str) -> list[str]:
    """harbor.cfg, systemd drop-ins (`key = value`) and env files (KEY=VALUE): keys, old → new."""
    return _key_changes(_assignments(old, "="), _assignments(new, "="))


def _shell_value(value: str) -> str:
    if value.startswith("(") and value.endswith(")"):
        return " ".join(shlex.split(value[1:-1]))
    return " ".join(shlex.split(value)) if value else ""


def diff_values(old: str, new: str) -> list[str]:
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


def diff_yaml(old: str, new: str) -> list[str]:
    """compose files and the registry configuration: YAML paths, old → new."""
    from deepdiff import DeepDiff

    delta = DeepDiff(_yaml(old), _yaml(new), verbose_level=2)
    changes = []
    for kind, entries in sorted(delta.items()):
        for path, value in sorted(entries.items()):
            where = _yaml_path(path)
            if kind in ("values_changed", "type_changes"):
                changes.append(f"{code(where)} {_show(value['old_value'])} → {_show(value['new_value'])}")
            elif kind.endswith("_added"):
                changes.append(f"{code(where)} added: {_show(value)}")
            elif kind.endswith("_removed"):
                changes.append(f"{code(where)} removed (was {_show(value)})")
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


def diff_nginx(old: str, new: str) -> list[str]:
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
                changes.append(f"{block}: {code(was[0])} → {code(now[0])}")
                continue
            changes += [f"{block}: - {code(line)}" for line in _minus(was, now)]
            changes += [f"{block}: + {code(line)}" for line in _minus(now, was)]
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


def diff_sql(old: str, new: str) -> list[str]:
    """SQL: statements added and removed."""
    was, now = sql_statements(old), sql_statements(new)
    return [f"- {code(s)}" for s in _minus(was, now)] + [f"+ {code(s)}" for s in _minus(now, was)]


def diff_secret_file(old: str, new: str) -> list[str]:
    """A file that is one placeholder: which secret it holds, by name; never a value."""
    was, now = PLACEHOLDER.findall(old), PLACEHOLDER.findall(new)
    return [f"holds secret {code(', '.join(now))} (was {code(', '.join(was))})"] if was != now else []


def unified(old: str, new: str, path: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm=""))


def diff_text(old: str, new: str) -> list[str]:
    """Scripts and the RUNBOOK: how many lines change; the unified diff travels beside (folded by default)."""
    lines = [line for line in unified(old, new, "x")[2:] if line[:1] in "+-"]
    added, removed = sum(line[0] == "+" for line in lines), sum(line[0] == "-" for line in lines)
    return [f"{added} line(s) added, {removed} removed"] if lines else []


# Which differ reads which file, by its path inside a bundle (first match wins).
DIFFERS: tuple[tuple[str, Differ, str], ...] = (
    ("*.pem", diff_secret_file, "secret"),
    ("*.crt", diff_secret_file, "secret"),
    ("*.secret", diff_secret_file, "secret"),
    ("shared/secretkey", diff_secret_file, "secret"),
    ("secret/keys/secretkey", diff_secret_file, "secret"),
    ("harbor/harbor.yml", diff_yaml, "yaml"),
    ("harbor/harborgen/pins/*.env", diff_assignments, "env"),
    ("harbor/docker-compose.yml", diff_yaml, "yaml"),
    ("harbor/common/templates/registry/config.yml", diff_yaml, "yaml"),
    ("harbor/harbor.cfg", diff_assignments, "ini"),
    ("harbor/common/templates/*/env", diff_assignments, "env"),
    ("systemd/*", diff_assignments, "ini"),
    ("ceph/client.conf", diff_assignments, "ini"),
    ("values.sh", diff_values, "values"),
    ("nginx/default.conf", diff_nginx, "nginx"),
    ("*.sql", diff_sql, "sql"),
)


def differ_for(path: str) -> tuple[Differ, str]:
    for pattern, differ, kind in DIFFERS:
        if fnmatch.fnmatchcase(path, pattern):
            return differ, kind
    return diff_text, "text"


def describe(path: str, old: str, new: str) -> tuple[str, list[str]]:
    """(kind of file, one sentence per change) for one file of one bundle."""
    differ, kind = differ_for(path)
    changes = differ(old, new)
    if not changes and old != new:
        return "text", diff_text(old, new)  # a change the structured view does not see (comments, order)
    return kind, changes
