"""`harborgen audit`: the nodes' own reports (apply.sh --check --format json) against what Git says.

Every node reports the bundle it was applied from and what drifted since;
the topology, compiled here, says which bundle each node should hold. One
table for the cluster; exit 1 when any node drifts, is behind, or did not report.

A report is untrusted input: whoever controls a node writes it. It is read only
from a regular file, never through a link, at most 1 MiB and 64 levels deep, and
every string of it is shown escaped for the terminal or for markdown. A report that
cannot be read blinds nobody: its node is "unreadable" in the table, and the audit
fails after showing it.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .bundle import MANIFEST, Tree, sha256
from .errors import Diagnostic
from .loader import MAX_DOCUMENT_BYTES, NotARegularFile, read_bounded
from .resources import SCHEMA_FILE
from .untrusted import markdown_text, shown

REPORT_SCHEMA = SCHEMA_FILE.parent / "check-report.schema.json"


@dataclass(frozen=True)
class Row:
    node: str
    git: str
    applied: str | None
    state: str  # "up to date", "behind", "drifts", "never applied", "no report", "unreadable report"
    drifted: tuple[str, ...]
    mounted: bool | None

    @property
    def healthy(self) -> bool:
        return self.state == "up to date"


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(REPORT_SCHEMA.read_text(encoding="utf-8")))


MAX_DEPTH = 64  # a report is three levels deep; anything far deeper is not one


class NotAReport(Exception):
    """A report file that cannot be one: the sentence says why, without its content."""


def _depth(text: str) -> int:
    """How deeply brackets nest in a JSON text, counted without parsing it (no recursion)."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _read_report(path: Path) -> Any:
    try:
        raw = read_bounded(path, MAX_DOCUMENT_BYTES, follow_links=False)
    except NotARegularFile as kind:
        raise NotAReport(f"{kind}, not a regular file") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotAReport("a symbolic link: reports are read from regular files only, never through a link") from None
        raise NotAReport(f"cannot be opened ({error.strerror})") from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise NotAReport(f"over {MAX_DOCUMENT_BYTES} bytes: a report is a few kilobytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAReport("not UTF-8") from None
    if _depth(text) > MAX_DEPTH:
        raise NotAReport(f"nested over {MAX_DEPTH} levels deep: a report is three")
    try:
        return json.loads(text)
    except ValueError as error:
        raise NotAReport(f"not JSON ({getattr(error, 'msg', 'invalid')} at line {getattr(error, 'lineno', 1)})") from None


def read_reports(directory: Path, cluster: str, nodes: set[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[Diagnostic]]:
    """From every *.json under directory: node -> its report; node -> why its report (NODE.json)
    could not be read; and every problem, each naming its file, none quoting it."""
    reports: dict[str, dict[str, Any]] = {}
    unreadable: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for path in sorted(directory.glob("*.json")):
        problem = None
        try:
            report = _read_report(path)
        except NotAReport as reason:
            problem = f"not a report of apply.sh --check --format json: {reason}"
        else:
            problem = _report_problem(report, cluster, nodes, reports)
        if problem is None:
            reports[report["node"]] = report
            continue
        problems.append(Diagnostic(shown(str(path)), 1, 1, "", problem))
        if path.stem in nodes:
            unreadable.setdefault(path.stem, problem)
    return reports, {node: why for node, why in unreadable.items() if node not in reports}, problems


def _report_problem(report: Any, cluster: str, nodes: set[str], seen: dict[str, Any]) -> str | None:
    errors = sorted(_validator().iter_errors(report), key=lambda error: list(error.absolute_path))
    if errors:
        # Never error.message: it quotes the value, and the value is whatever the file holds.
        where = ".".join(str(part) for part in errors[0].absolute_path) or "the document"
        return f"{where} fails the schema's {errors[0].validator!r} rule (expected what apply.sh --check --format json prints)"
    if report["cluster"] != cluster or report["node"] not in nodes:
        return f"a report of {shown(report['cluster'])}/{shown(report['node'])}, which is not a node of cluster {cluster}"
    if report["node"] in seen:
        return f"a second report of node {report['node']!r}"
    return None


def audit(tree: Tree, nodes: list[str], reports: dict[str, dict[str, Any]], unreadable: dict[str, str] | None = None) -> list[Row]:
    rows = []
    for node in nodes:
        git = sha256(tree[f"{node}/{MANIFEST}"].content)
        report = reports.get(node)
        if report is None:
            rows.append(Row(node, git, None, "unreadable report" if node in (unreadable or {}) else "no report", (), None))
            continue
        drifted = tuple(f"{entry['path']}: {entry['kind']}" for entry in report["drift"]
                        if not entry["kind"].startswith(("behind", "missing: this node was never applied")))
        if report["applied"] is None:
            state = "never applied"
        elif report["applied"] != git:
            state = "behind"
        elif drifted:
            state = "drifts"
        else:
            state = "up to date"
        rows.append(Row(node, git, report["applied"], state, drifted, report["mounted"]))
    return rows


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "-"


def _mounted(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[value]


def as_text(rows: list[Row]) -> str:
    header = ("node", "applied", "in Git", "state", "drifted", "mounted")
    table = [header] + [(row.node, _short(row.applied), _short(row.git), row.state, str(len(row.drifted)), _mounted(row.mounted))
                        for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    for row in rows:
        lines += [f"  {row.node}: {shown(item)}" for item in row.drifted]
    bad = [row.node for row in rows if not row.healthy]
    lines.append(f"{len(rows) - len(bad)} of {len(rows)} nodes hold what Git says" + (f"; look at: {', '.join(bad)}" if bad else ""))
    return "\n".join(lines) + "\n"


def as_markdown(rows: list[Row]) -> str:
    lines = ["| node | applied | in Git | state | drifted | mounted |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {row.node} | `{_short(row.applied)}` | `{_short(row.git)}` | {row.state} | {len(row.drifted)} | {_mounted(row.mounted)} |"
              for row in rows]
    details = [f"- **{row.node}** {markdown_text(item)}" for row in rows for item in row.drifted]
    if details:
        lines += ["", "<details><summary>Drift</summary>", "", *details, "", "</details>"]
    return "\n".join(lines) + "\n"


FORMATTERS = {"text": as_text, "markdown": as_markdown}
