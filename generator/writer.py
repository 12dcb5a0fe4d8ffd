"""Stage 5: compare a rendered tree with the disk, and write it without ever leaving half of it.

A render builds the complete new tree in a sibling temporary directory
(unchanged files are hard links to the old ones, so they keep their inode
and time stamps), then swaps it in with two renames. Whatever interrupts a
render, ``out/<cluster>/`` holds either the old tree or the new one; the one
window between the renames is repaired by the next run.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import MANIFEST, Tree, sha256
from .artifacts import Artifact
from .errors import OutputError

FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
SECRET_MODE = 0o600


@dataclass(frozen=True)
class Drift:
    """How the files on disk differ from a fresh render."""

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()  # what an older render wrote; a new render replaces it
    edited: tuple[str, ...] = ()  # changed by hand since it was rendered
    unchanged: tuple[str, ...] = field(default=(), repr=False)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.edited)

    def report(self) -> list[str]:
        return [
            f"{kind}: {path}"
            for kind, paths in (("missing", self.missing), ("extra", self.extra), ("stale", self.stale), ("hand-edited", self.edited))
            for path in paths
        ]


def mode_of(artifact: Artifact) -> int:
    if artifact.secret:
        return SECRET_MODE | (0o100 if artifact.executable else 0)
    return EXECUTABLE_MODE if artifact.executable else FILE_MODE


def compare(tree: Tree, cluster_dir: Path) -> Drift:
    on_disk = _files_under(cluster_dir)
    recorded = _recorded_hashes(cluster_dir)
    missing, stale, edited, unchanged = [], [], [], []
    for path, artifact in sorted(tree.items()):
        if path not in on_disk:
            missing.append(path)
        elif _matches(cluster_dir / path, artifact):
            unchanged.append(path)
        elif path in recorded and recorded[path] != sha256((cluster_dir / path).read_bytes()):
            edited.append(path)
        else:
            stale.append(path)
    extra = sorted(on_disk - tree.keys())
    return Drift(tuple(missing), tuple(extra), tuple(stale), tuple(edited), tuple(unchanged))


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def write_tree(tree: Tree, cluster_dir: Path, *, private: bool = False) -> WriteResult:
    """Make cluster_dir hold exactly tree, writing only what differs; private: directories 0700."""
    try:
        _recover_interrupted_swap(cluster_dir)
        drift = compare(tree, cluster_dir)
        result = WriteResult(
            written=tuple(sorted(drift.missing + drift.stale + drift.edited)),
            removed=drift.extra,
            unchanged=len(drift.unchanged),
        )
        if drift.clean:
            return result
        cluster_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{cluster_dir.name}.new-", dir=cluster_dir.parent))
        try:
            _fill(staging, tree, cluster_dir, set(drift.unchanged), 0o700 if private else 0o755)
            _swap_in(staging, cluster_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return result
    except OSError as error:
        raise OutputError(f"cannot write {cluster_dir}: {error}") from error


def _fill(staging: Path, tree: Tree, old_dir: Path, unchanged: set[str], directory_mode: int) -> None:
    os.chmod(staging, directory_mode)
    for path, artifact in sorted(tree.items()):
        target = staging / path
        target.parent.mkdir(mode=directory_mode, parents=True, exist_ok=True)
        if path in unchanged:
            os.link(old_dir / path, target)
            continue
        target.write_bytes(artifact.content)
        os.chmod(target, mode_of(artifact))


def _backup_of(cluster_dir: Path) -> Path:
    return cluster_dir.parent / f".{cluster_dir.name}.old"


def _swap_in(staging: Path, cluster_dir: Path) -> None:
    backup = _backup_of(cluster_dir)
    if cluster_dir.exists():
        os.rename(cluster_dir, backup)
    os.rename(staging, cluster_dir)
    shutil.rmtree(backup, ignore_errors=True)


def _recover_interrupted_swap(cluster_dir: Path) -> None:
    backup = _backup_of(cluster_dir)
    if not backup.exists():
        return
    if cluster_dir.exists():
        shutil.rmtree(backup)  # the swap finished; only the clean-up was cut short
    else:
        os.rename(backup, cluster_dir)  # cut between the two renames: the old tree comes back


def mode_matches(mode: int, artifact: Artifact) -> bool:
    """Git keeps only the executable bit, and a checkout's umask decides the rest;
    a file that holds a secret must in addition be private to its owner."""
    if bool(mode & stat.S_IXUSR) != artifact.executable:
        return False
    return not (artifact.secret and mode & 0o077)


def _matches(path: Path, artifact: Artifact) -> bool:
    return mode_matches(path.stat().st_mode, artifact) and path.read_bytes() == artifact.content


def _files_under(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {
        str(Path(directory, name).relative_to(root))
        for directory, _, names in os.walk(root)
        for name in names
    }


def _recorded_hashes(cluster_dir: Path) -> dict[str, str]:
    """What the manifest on disk says each file held when it was rendered."""
    try:
        text = (cluster_dir / MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    recorded = {}
    for line in text.splitlines():
        digest, sep, path = line.partition("  ")
        if sep:
            recorded[path] = digest
    return recorded
