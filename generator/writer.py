"""Stage 5: compare a rendered tree with the disk, and write it without ever leaving half of it.

A render builds the complete new tree in a sibling temporary directory
(unchanged files are hard links to the old ones, so they keep their inode
and time stamps), then swaps it in with two renames. Whatever interrupts a
render, ``out/<cluster>/`` holds either the old tree or the new one; the one
window between the renames is repaired by the next run.

Every run that writes holds an exclusive lock on ``out/.<cluster>.lock``, so two
runs never mix their trees; under it, leftovers of killed runs are removed.
Nothing under ``out/<cluster>/`` is ever followed or opened unless it is a
regular file: a link or a FIFO there is drift, and a render replaces it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import Artifact
from .bundle import MANIFEST, Tree, sha256
from .errors import OutputError

FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
SECRET_MODE = 0o600
LOCK_TIMEOUT_SECONDS = 60.0
STAGING_INFIX = ".new-"


@dataclass(frozen=True)
class Drift:
    """How the files on disk differ from a fresh render."""

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()  # what an older render wrote; a new render replaces it
    edited: tuple[str, ...] = ()  # changed by hand since it was rendered
    not_regular: tuple[str, ...] = ()  # a link, FIFO or directory where a file belongs: never followed
    unchanged: tuple[str, ...] = field(default=(), repr=False)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.edited or self.not_regular)

    def report(self) -> list[str]:
        kinds = (("missing", self.missing), ("extra", self.extra), ("stale", self.stale),
                 ("hand-edited", self.edited), ("not a regular file", self.not_regular))
        return [f"{kind}: {path}" for kind, paths in kinds for path in paths]


def mode_of(artifact: Artifact) -> int:
    if artifact.secret:
        return SECRET_MODE | (0o100 if artifact.executable else 0)
    return EXECUTABLE_MODE if artifact.executable else FILE_MODE


def compare(tree: Tree, cluster_dir: Path) -> Drift:
    """How cluster_dir differs from tree; a shared lock keeps a render from swapping trees meanwhile."""
    _refuse_link(cluster_dir)
    with _lock(cluster_dir, exclusive=False):
        return _compare(tree, cluster_dir)


def _compare(tree: Tree, cluster_dir: Path) -> Drift:
    on_disk = _entries_under(cluster_dir)
    recorded = _recorded_hashes(cluster_dir)
    missing, stale, edited, not_regular, unchanged = [], [], [], [], []
    for path, artifact in sorted(tree.items()):
        if path not in on_disk:
            missing.append(path)
            continue
        content = read_regular(cluster_dir / path)
        if content is None:
            not_regular.append(path)
        elif content == artifact.content and mode_matches(on_disk[path], artifact):
            unchanged.append(path)
        elif path in recorded and recorded[path] != sha256(content):
            edited.append(path)
        else:
            stale.append(path)
    extra = sorted(on_disk.keys() - tree.keys())
    return Drift(tuple(missing), tuple(extra), tuple(stale), tuple(edited), tuple(not_regular), tuple(unchanged))


@dataclass(frozen=True)
class WriteResult:
    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    cleaned: tuple[str, ...] = ()  # leftovers of interrupted runs, removed under the lock


# What says that harborgen wrote a directory's files, so that a run may delete those the new
# tree no longer has: given the directory, a test of each path it holds. Anything it does not
# vouch for is the user's, and a write that would delete it is refused instead.
Ownership = Callable[[Path], Callable[[str], bool]]


def listed_in_manifest(cluster_dir: Path) -> Callable[[str], bool]:
    """A render or a materialized tree: what the MANIFEST.sha256 an earlier run left there lists."""
    listed = set(_recorded_hashes(cluster_dir)) | {MANIFEST}
    return listed.__contains__


def write_tree(tree: Tree, cluster_dir: Path, *, private: bool = False, ownership: Ownership = listed_in_manifest) -> WriteResult:
    """Make cluster_dir hold exactly tree, writing only what differs; private: directories 0700.
    Refused when that would delete a file harborgen did not write (see Ownership)."""
    _refuse_link(cluster_dir)
    try:
        cluster_dir.parent.mkdir(parents=True, exist_ok=True)
        with _lock(cluster_dir, exclusive=True):
            cleaned = _remove_leftovers(cluster_dir)
            _recover_interrupted_swap(cluster_dir)
            drift = _compare(tree, cluster_dir)
            _refuse_foreign(cluster_dir, tree, drift.extra, ownership)
            result = WriteResult(
                written=tuple(sorted(drift.missing + drift.stale + drift.edited + drift.not_regular)),
                removed=drift.extra,
                unchanged=len(drift.unchanged),
                cleaned=cleaned,
            )
            if not drift.clean:
                _write_staged(tree, cluster_dir, set(drift.unchanged), 0o700 if private else 0o755)
            return result
    except OSError as error:
        raise OutputError(f"cannot write {cluster_dir}: {error}") from error


def refuse_foreign(tree: Tree, cluster_dir: Path, ownership: Ownership = listed_in_manifest) -> None:
    """Before a run that writes several directories: refuse before the first is written.
    (write_tree checks again under its lock.)"""
    _refuse_link(cluster_dir)
    try:
        _refuse_foreign(cluster_dir, tree, _compare(tree, cluster_dir).extra, ownership)
    except OSError as error:
        raise OutputError(f"cannot read {cluster_dir}: {error}") from error


def _refuse_foreign(cluster_dir: Path, tree: Tree, extra: tuple[str, ...], ownership: Ownership) -> None:
    needed_directories = {str(parent) for path in tree for parent in Path(path).parents if str(parent) != "."}
    owned = ownership(cluster_dir) if extra else None
    foreign = [path for path in extra if path not in needed_directories and not owned(path)]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise OutputError(
            f"{cluster_dir} holds {cluster_dir / foreign[0]}{more}, which harborgen did not write: refusing to write there, "
            "where it would delete them (give an empty or new directory, or one harborgen wrote for the same thing)"
        )


def _write_staged(tree: Tree, cluster_dir: Path, unchanged: set[str], directory_mode: int) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{cluster_dir.name}{STAGING_INFIX}", dir=cluster_dir.parent))
    try:
        _fill(staging, tree, cluster_dir, unchanged, directory_mode)
        _swap_in(staging, cluster_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_link(cluster_dir: Path) -> None:
    if cluster_dir.is_symlink():
        raise OutputError(
            f"{cluster_dir} is a symbolic link: harborgen never writes through one "
            f"(remove the link, or give --out the directory that holds the real {cluster_dir.name}/)"
        )


def lock_path(cluster_dir: Path) -> Path:
    return cluster_dir.parent / f".{cluster_dir.name}.lock"


@contextmanager
def _lock(cluster_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """flock on out/.<cluster>.lock, waited for a bounded time; a reader without the file goes on unlocked.

    Not filelock: its FileLock is exclusive only, and its ReadWriteLock keeps the
    lock in an SQLite database. Renders exclude each other while `diff` and
    `audit` share the lock, a reader must not create the file (it may be read-only
    there), and the file is opened with O_NOFOLLOW: a symlink planted in out/ is
    refused, not followed. flock does all of that in these few lines.
    """
    path = lock_path(cluster_dir)
    flags = os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY)
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as error:
        if exclusive or error.errno not in (errno.ENOENT, errno.EACCES, errno.ELOOP):
            raise OutputError(f"cannot open the lock file {path}: {error.strerror}") from error
        yield  # nothing has rendered here yet, or the reader may not create files: nothing to wait for
        return
    try:
        _acquire(descriptor, path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, path: Path, operation: int) -> None:
    timeout = float(os.environ.get("HARBORGEN_LOCK_TIMEOUT", LOCK_TIMEOUT_SECONDS))
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OutputError(
                    f"another harborgen run holds {path} (waited {timeout:g} s; "
                    "set HARBORGEN_LOCK_TIMEOUT to wait longer)"
                ) from None
            time.sleep(0.05)


def _remove_leftovers(cluster_dir: Path) -> tuple[str, ...]:
    """Staging directories of runs that were killed: only a run holding the lock may remove them."""
    removed = []
    for leftover in sorted(cluster_dir.parent.glob(f".{cluster_dir.name}{STAGING_INFIX}*")):
        if leftover.is_symlink() or not leftover.is_dir():
            leftover.unlink()
        else:
            shutil.rmtree(leftover)
        removed.append(str(leftover))
    return tuple(removed)


def _fill(staging: Path, tree: Tree, old_dir: Path, unchanged: set[str], directory_mode: int) -> None:
    os.chmod(staging, directory_mode)
    for path, artifact in sorted(tree.items()):
        target = staging / path
        target.parent.mkdir(mode=directory_mode, parents=True, exist_ok=True)
        if path in unchanged:
            os.link(old_dir / path, target, follow_symlinks=False)
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
    if backup.is_symlink():
        backup.unlink()  # never ours: harborgen only renames real directories there
    elif not backup.exists():
        return
    elif cluster_dir.exists():
        shutil.rmtree(backup)  # the swap finished; only the clean-up was cut short
    else:
        os.rename(backup, cluster_dir)  # cut between the two renames: the old tree comes back


def mode_matches(mode: int, artifact: Artifact) -> bool:
    """Git keeps only the executable bit, and a checkout's umask decides the rest;
    a file that holds a secret must in addition be private to its owner."""
    if bool(mode & stat.S_IXUSR) != artifact.executable:
        return False
    return not (artifact.secret and mode & 0o077)


def read_regular(path: Path) -> bytes | None:
    """The file's bytes, or None when it is not a regular file (never following a link, never blocking on a FIFO)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO, errno.ENOENT, errno.EISDIR):
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        with os.fdopen(os.dup(descriptor), "rb") as stream:
            return stream.read()
    finally:
        os.close(descriptor)


def _entries_under(root: Path) -> dict[str, int]:
    """Every file-like entry below root with its lstat mode; links to directories count as entries."""
    if root.is_symlink() or not root.is_dir():
        return {}
    entries = {}
    for directory, subdirectories, names in os.walk(root):
        linked = [name for name in subdirectories if os.path.islink(os.path.join(directory, name))]
        for name in [*names, *linked]:
            path = Path(directory, name)
            entries[str(path.relative_to(root))] = path.lstat().st_mode
    return entries


def _recorded_hashes(cluster_dir: Path) -> dict[str, str]:
    """What the manifest on disk says each file held when it was rendered."""
    try:
        content = read_regular(cluster_dir / MANIFEST)
        text = content.decode("utf-8") if content is not None else ""
    except (OSError, UnicodeDecodeError):
        return {}
    recorded = {}
    for line in text.splitlines():
        digest, sep, path = line.partition("  ")
        if sep:
            recorded[path] = digest
    return recorded
