"""The outputs of `harborgen lint`: text for people, JSON for tools, GitHub workflow commands for PRs."""

from __future__ import annotations

import json
from collections.abc import Callable

from .rule import Result
from .run import RULES, counts


def catalogue() -> str:
    """`harborgen lint --list-rules`: one block per rule, in id order."""
    lines = []
    for rule in RULES:
        lines.append(f"{rule.id}  {rule.severity:<7}  {rule.title}")
        lines.append(f"       {rule.rationale}")
    return "\n".join(lines) + "\n"


def as_text(topology: str, results: list[Result]) -> str:
    tally = counts(results)
    summary = ", ".join(f"{count} {severity}" for severity, count in tally.items())
    return "".join(f"{result}\n" for result in results) + f"{topology}: {summary}\n"


def as_json(topology: str, results: list[Result]) -> str:
    """The structure schema/lint-report.schema.json describes."""
    report = {
        "topology": topology,
        "findings": [
            {
                "file": result.file, "line": result.line, "column": result.column,
                "severity": result.severity, "rule": result.rule.id, "rule_severity": result.rule.severity,
                "title": result.rule.title, "path": result.path,
                "what": result.finding.what, "why": result.finding.why, "fix": result.finding.fix,
                "accepted_because": result.accepted_because,
            }
            for result in results
        ],
        "counts": counts(results),
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice", "accepted": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(topology: str, results: list[Result]) -> str:
    """GitHub Actions workflow commands: each finding annotates its line of the topology in the PR."""
    return "".join(
        f"::{_GITHUB_LEVEL[result.severity]} file={_escape_property(result.file)},line={result.line},col={result.column},"
        f"title={_escape_property(result.rule.id)}::{_escape_data(f'{result.path}: {result.message}')}\n"
        for result in results
    )


FORMATTERS: dict[str, Callable[[str, list[Result]], str]] = {"text": as_text, "json": as_json, "github": as_github}
