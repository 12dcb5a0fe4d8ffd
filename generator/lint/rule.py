"""What a lint rule is and what it finds: the vocabulary the shared rules and every target's rules use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..loader import dotted

if TYPE_CHECKING:
    from ..pipeline import Checked

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    path: tuple
    what: str
    why: str
    fix: str


Check = Callable[["Checked"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    rationale: str
    check: Check


@dataclass(frozen=True)
class Result:
    """A finding of one rule, located, and accepted or not."""

    file: str
    line: int
    column: int
    rule: Rule
    finding: Finding
    accepted_because: str | None = None

    @property
    def severity(self) -> str:
        return "accepted" if self.accepted_because is not None else self.rule.severity

    @property
    def path(self) -> str:
        return dotted(self.finding.path)

    @property
    def message(self) -> str:
        text = f"{self.finding.what} — {self.finding.why} — {self.finding.fix}"
        return text + (f" (accepted: {self.accepted_because})" if self.accepted_because is not None else "")

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity} {self.rule.id} {self.path}: {self.message}"
