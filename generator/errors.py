"""The one exception hierarchy of harborgen.

Every failure the command line reports is a HarborgenError; its exit code is
decided in exactly one place, ``EXIT_CODES`` below, which the CLI consults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Line breaks, other control characters, lone surrogates and the invisible format
# characters: a diagnostic is one line, and shows what it quotes.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def printable(text: str) -> str:
    """text with every unprintable character spelt as an escape (\\r, \\x00, \\u202e)."""
    return _UNPRINTABLE.sub(lambda match: repr(match.group(0))[1:-1], text)


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in an input document, located for an editor to jump to."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{printable(self.file)}:{self.line}:{self.column}"
        path, message = printable(self.path), printable(self.message)
        return f"{where}: {path}: {message}" if path else f"{where}: {message}"


class HarborgenError(Exception):
    """Base of every error harborgen reports without a traceback."""


class InputError(HarborgenError):
    """The topology (or another input file) is invalid; carries every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class UsageError(HarborgenError):
    """The command line asks for something that cannot be done as asked."""


class DriftError(HarborgenError):
    """The rendered tree on disk does not match what the topology compiles to."""


class LintFindings(HarborgenError):
    """lint found at least one error the topology does not accept."""


class RenderError(HarborgenError):
    """A template failed to render; the message names the artifact."""


class OutputError(HarborgenError):
    """Writing or reading the output tree failed."""


class InternalError(HarborgenError):
    """A bug in harborgen: reported in one sentence, with --debug for the traceback."""


EXIT_CODES: dict[type[HarborgenError], int] = {
    HarborgenError: 3,
    DriftError: 1,
    LintFindings: 1,
    InputError: 2,
    UsageError: 2,
    RenderError: 3,
    OutputError: 4,
    InternalError: 70,  # EX_SOFTWARE
}


def exit_code_for(error: HarborgenError) -> int:
    return next(EXIT_CODES[cls] for cls in type(error).__mro__ if cls in EXIT_CODES)
