"""Where a topology comes from: a file, or `REF:PATH` at a Git revision (read from Git, bounded).

A name that is both (a file called `origin/main:topology.yaml` in the work tree, which a pull
request can add) is refused: whoever controls the work tree must not choose the BASE of a review.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import UsageError
from ..loader import MAX_DOCUMENT_BYTES, NotARegularFile, read_bounded

GIT_TIMEOUT_SECONDS = 60


def read_topology(spec: str) -> bytes:
    """The bytes of a topology named as a file, or as REF:PATH; refused when it names both."""
    path = Path(spec)
    on_disk = path.exists() or path.is_symlink()
    kind = _git_object_type(spec) if _is_revision(spec) else None
    if on_disk and kind is not None:
        raise UsageError(
            f"{spec!r} names both a file in this directory and {spec.partition(':')[2]} at Git revision "
            f"{spec.partition(':')[0]}: refusing to guess (write ./{spec} for the file; rename or remove the file to read Git)"
        )
    if on_disk or ":" not in spec:
        return _read_file(path, spec)
    if not _is_revision(spec):
        raise UsageError(f"{spec!r} is neither a file nor REF:PATH")
    return _read_blob(spec, kind)


def _is_revision(spec: str) -> bool:
    ref, _, inner = spec.partition(":")
    return bool(ref and inner and not ref.startswith("-"))


def _read_file(path: Path, spec: str) -> bytes:
    try:
        return read_bounded(path, MAX_DOCUMENT_BYTES)
    except NotARegularFile as error:
        raise UsageError(f"{spec} is {error} (expected a topology file or REF:PATH)") from error
    except OSError as error:
        raise UsageError(f"cannot read {spec} ({error.strerror}): expected a topology file or REF:PATH") from error


def _git(spec: str, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], capture_output=True, timeout=GIT_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError) as error:
        raise UsageError(f"cannot read {spec} from Git: {error}") from error


def _git_object_type(spec: str) -> str | None:
    found = _git(spec, "cat-file", "-t", spec)
    return found.stdout.decode("ascii", errors="replace").strip() if found.returncode == 0 else None


def _read_blob(spec: str, kind: str | None) -> bytes:
    """The blob SPEC names; KIND is what `git cat-file -t` said of it (None: nothing)."""
    if kind is None:
        shown = _git(spec, "show", spec)  # for git's own sentence: which part does not exist
        message = shown.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise UsageError(f"cannot read {spec} from Git: {message[-1] if message else 'no such revision or path'}")
    if kind != "blob":
        raise UsageError(f"{spec} is a {'directory' if kind == 'tree' else kind} in Git, not a file (expected REF:PATH of a topology file)")
    size = int(_git(spec, "cat-file", "-s", spec).stdout or 0)
    if size > MAX_DOCUMENT_BYTES:
        raise UsageError(f"{spec} is {size} bytes in Git (expected a topology of at most {MAX_DOCUMENT_BYTES} bytes)")
    return _bounded_blob(spec)


def _bounded_blob(spec: str) -> bytes:
    """The blob's bytes, never more than the limit plus one held in memory, whatever Git sends."""
    try:
        process = subprocess.Popen(["git", "cat-file", "blob", spec], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as error:
        raise UsageError(f"cannot read {spec} from Git: {error}") from error
    try:
        content = process.stdout.read(MAX_DOCUMENT_BYTES + 1)
    finally:
        process.kill()
        process.stdout.close()
        process.wait(timeout=GIT_TIMEOUT_SECONDS)
    return content
