"""The one exception hierarchy of harborgen.

Every failure the command line reports is a HarborgenError; its exit code is
decided in exactly one place, ``EXIT_CODES`` below, which the CLI consults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in an input document, located for an editor to jump to."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


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


class RenderError(HarborgenError):
    """A template failed to render; the message names the artifact."""


class OutputError(HarborgenError):
    """Writing or reading the output tree failed."""


EXIT_CODES: dict[type[HarborgenError], int] = {
    HarborgenError: 3,
    DriftError: 1,
    InputError: 2,
    UsageError: 2,
    RenderError: 3,
    OutputError: 4,
}


def exit_code_for(error: HarborgenError) -> int:
    return next(EXIT_CODES[cls] for cls in type(error).__mro__ if cls in EXIT_CODES)
