"""`harborgen audit`: the nodes' own reports (apply.sh --check --format json) against what Git says.

Every node reports the bundle it was applied from and what drifted since;
the topology, compiled here, says which bundle each node should hold. One
table for the cluster; exit 1 when any node drifts, is behind, or did not report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .bundle import MANIFEST, Tree, sha256
from .errors import Diagnostic, InputError
from .loader import MAX_DOCUMENT_BYTES, NotARegularFile, read_bounded
from .resources import SCHEMA_FILE

REPORT_SCHEMA = SCHEMA_FILE.parent / "check-report.schema.json"


@dataclass(frozen=True)
class Row:
    node: str
    git: str
    applied: str | None
    state: str  # "up to date", "behind", "drifts", "never applied", "no report"
    drifted: tuple[str, ...]
    mounted: bool | None

    @property
    def healthy(self) -> bool:
        return self.state == "up to date"


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(REPORT_SCHEMA.read_text(encoding="utf-8")))


def read_reports(directory: Path, cluster: str, nodes: set[str]) -> dict[str, dict[str, Any]]:
    """node -> its report, from every *.json under directory; every problem at once."""
    reports, problems = {}, []
    for path in sorted(directory.glob("*.json")):
        try:
            report = json.loads(read_bounded(path, MAX_DOCUMENT_BYTES).decode("utf-8"))
        except (OSError, NotARegularFile, UnicodeDecodeError, ValueError) as error:
            problems.append(Diagnostic(str(path), 1, 1, "", f"not a report of apply.sh --check --format json ({error})"))
            continue
        errors = sorted(_validator().iter_errors(report), key=lambda error: list(error.absolute_path))
        if errors:
            where = ".".join(str(part) for part in errors[0].absolute_path)
            problems.append(Diagnostic(str(path), 1, 1, where, f"{errors[0].message} (expected what apply.sh --check --format json prints)"))
        elif report["cluster"] != cluster or report["node"] not in nodes:
            problems.append(Diagnostic(str(path), 1, 1, "node", f"a report of {report['cluster']}/{report['node']}, which is not a node of cluster {cluster}"))
        elif report["node"] in reports:
            problems.append(Diagnostic(str(path), 1, 1, "node", f"a second report of node {report['node']!r}"))
        else:
            reports[report["node"]] = report
    if problems:
        raise InputError(problems)
    return reports


def audit(tree: Tree, nodes: list[str], reports: dict[str, dict[str, Any]]) -> list[Row]:
    rows = []
    for node in nodes:
        git = sha256(tree[f"{node}/{MANIFEST}"].content)
        report = reports.get(node)
        if report is None:
            rows.append(Row(node, git, None, "no report", (), None))
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
        lines += [f"  {row.node}: {item}" for item in row.drifted]
    bad = [row.node for row in rows if not row.healthy]
    lines.append(f"{len(rows) - len(bad)} of {len(rows)} nodes hold what Git says" + (f"; look at: {', '.join(bad)}" if bad else ""))
    return "\n".join(lines) + "\n"


def as_markdown(rows: list[Row]) -> str:
    lines = ["| node | applied | in Git | state | drifted | mounted |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {row.node} | `{_short(row.applied)}` | `{_short(row.git)}` | {row.state} | {len(row.drifted)} | {_mounted(row.mounted)} |"
              for row in rows]
    details = [f"- **{row.node}** {item}" for row in rows for item in row.drifted]
    if details:
        lines += ["", "<details><summary>Drift</summary>", "", *details, "", "</details>"]
    return "\n".join(lines) + "\n"


FORMATTERS = {"text": as_text, "markdown": as_markdown}
