"""Where a topology comes from: a file, or `REF:PATH` at a Git revision (read with `git show`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .errors import UsageError
from .loader import MAX_DOCUMENT_BYTES, NotARegularFile, read_bounded


def read_topology(spec: str) -> bytes:
    """The bytes of a topology named as a file, or as REF:PATH when no such file exists."""
    path = Path(spec)
    if path.exists() or ":" not in spec:
        try:
            return read_bounded(path, MAX_DOCUMENT_BYTES)
        except NotARegularFile as error:
            raise UsageError(f"{spec} is {error} (expected a topology file or REF:PATH)") from error
        except OSError as error:
            raise UsageError(f"cannot read {spec} ({error.strerror}): expected a topology file or REF:PATH") from error
    ref, _, inner = spec.partition(":")
    if not ref or not inner or ref.startswith("-"):
        raise UsageError(f"{spec!r} is neither a file nor REF:PATH")
    try:
        shown = subprocess.run(["git", "show", f"{ref}:{inner}"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise UsageError(f"cannot read {spec} from Git: {error}") from error
    if shown.returncode != 0:
        message = shown.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise UsageError(f"cannot read {spec} from Git: {message[-1] if message else 'git show failed'}")
    return shown.stdout
