"""The secrets file: an ordinary YAML mapping from secret name to value, kept out of Git.

Any YAML a tool writes is accepted (block scalars, either quoting style), read
with the same loader as the topology and checked with the rules of
generator/secrets/legality.py. Every command that reads or writes the file applies one
policy: a regular file of the user who runs harborgen, readable by its owner
only (as ssh's StrictModes), and outside Git unless Git ignores it. Mode and
owner are checked on the descriptor the bytes are then read from: a link swapped
in between the check and the read cannot win.
New values are appended; an existing file keeps every byte it had.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, InputError, OutputError
from ..formats import SHAPES
from ..loader import MAX_DOCUMENT_BYTES, Located, NotARegularFile, load_text, read_bounded
from ..model import Cluster
from .legality import key_pair_problem, published_key_problem, value_problems
from .managed import TOKEN_CERTIFICATE, TOKEN_PRIVATE_KEY

SECRETS_FILE_MODE = 0o600


@dataclass(frozen=True)
class SecretValues:
    """Values read from a secrets file, with where each stands in it."""

    located: Located | None
    values: dict[str, str]
    raw: bytes = b""  # the bytes the values were read from: what an append keeps

    def diagnostic(self, name: str, message: str) -> Diagnostic:
        if self.located is None:
            return Diagnostic("<secrets>", 1, 1, name, message)
        return self.located.diagnostic((name,), message)


def read_secrets(path: Path) -> SecretValues:
    raw = _read_private(path)
    located = load_text(raw, str(path))
    problems = []
    for name, value in located.data.items():
        if not SHAPES["secret-name"].check(name):
            problems.append(located.diagnostic((name,), f"{name!r} is not a secret name (expected {SHAPES['secret-name'].expected})", of_key=True))
        elif not isinstance(value, str):
            problems.append(located.diagnostic((name,), "is not a string (expected the secret's text; quote numbers and booleans)"))
    if problems:
        raise InputError(problems)
    return SecretValues(located, dict(located.data), raw)


def _read_private(path: Path) -> bytes:
    """The file's bytes, from the descriptor whose kind, owner and mode passed the policy."""
    def admit(status: os.stat_result) -> None:
        problem = policy_problem(path, status)
        if problem:
            raise InputError([problem])

    try:
        return read_bounded(path, MAX_DOCUMENT_BYTES, admit=admit)
    except NotARegularFile:
        raise InputError([_not_regular(path)]) from None
    except OSError as error:
        raise InputError([Diagnostic(str(path), 1, 1, "", f"cannot read the secrets file ({error.strerror})")]) from error


def _not_regular(path: Path) -> Diagnostic:
    return Diagnostic(str(path), 1, 1, "", "the secrets file is not a regular file (expected a YAML file)")


def policy_problem(path: Path, status: os.stat_result) -> Diagnostic | None:
    """Why a secrets file with this status may not be trusted, or None."""
    if not stat.S_ISREG(status.st_mode):
        return _not_regular(path)
    if status.st_uid != os.geteuid():
        return Diagnostic(
            str(path), 1, 1, "",
            f"the secrets file is owned by uid {status.st_uid}, not by you (uid {os.geteuid()}): its owner can change every "
            f"secret harborgen installs (expected a file of your own: copy it, then 'chmod 600' the copy)",
        )
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        return Diagnostic(
            str(path), 1, 1, "",
            f"the secrets file has mode {mode:04o} (expected 0600: readable by its owner only; run 'chmod 600 {path}')",
        )
    return None


def check_secrets(cluster: Cluster, needed: dict[str, frozenset[str]], secrets: SecretValues) -> list[Diagnostic]:
    """Every needed secret present and legal for every context it lands in; the token pair matching."""
    problems = []
    for name, contexts in needed.items():
        value = secrets.values.get(name)
        if value is None:
            problems.append(secrets.diagnostic(name, f"missing ({how_to_obtain(cluster, name)})"))
            continue
        for problem in value_problems(value, contexts):
            problems.append(secrets.diagnostic(name, f"the value {problem}"))
    for name in (TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE):
        published = published_key_problem(secrets.values[name]) if name in needed and name in secrets.values else None
        if published:
            problems.append(secrets.diagnostic(name, published))
    if not problems and TOKEN_PRIVATE_KEY in needed and TOKEN_CERTIFICATE in needed:
        pair_problem = key_pair_problem(secrets.values[TOKEN_PRIVATE_KEY], secrets.values[TOKEN_CERTIFICATE])
        if pair_problem:
            problems.append(secrets.diagnostic(TOKEN_CERTIFICATE, pair_problem))
    return problems


def git_work_tree(directory: Path) -> Path | None:
    """The Git work tree that holds directory (or is it), if any."""
    directory = directory.resolve()
    return next((parent for parent in (directory, *directory.parents) if (parent / ".git").exists()), None)


def git_exposure_problem(path: Path) -> Diagnostic | None:
    """A secrets file inside a Git work tree must be one that Git ignores, or one commit publishes it."""
    work_tree = git_work_tree(path.resolve().parent)
    if work_tree is None:
        return None
    target = path.resolve()
    try:
        ignored = subprocess.run(
            ["git", "-C", str(work_tree), "check-ignore", "-q", str(target)],
            capture_output=True, timeout=30,
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ignored = False  # git cannot answer: treat the file as exposed
    if ignored:
        return None
    return Diagnostic(
        str(path), 1, 1, "",
        f"the secrets file is inside the Git work tree {work_tree} and Git does not ignore it "
        "(expected a path outside Git, or one that .gitignore lists)",
    )


def secrets_file_problems(path: Path) -> list[Diagnostic]:
    """The rules of the policy that hold before the file is opened: out of Git. (Kind, owner
    and mode are checked by read_secrets, on the descriptor it reads.)"""
    return [problem for problem in (git_exposure_problem(path),) if problem]


def how_to_obtain(cluster: Cluster, name: str) -> str:
    """What the operator does to supply a secret that is missing."""
    if name == cluster.cephfs.key.name:
        client = cluster.cephfs.client
        return (
            f"run 'ceph auth get-key client.{client}' on the ceph-admin node (bootstrap-cephfs.sh prints it) "
            f"and add it as '{name}: <key>'"
        )
    if name in (TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE):
        return f"{TOKEN_PRIVATE_KEY} and {TOKEN_CERTIFICATE} are one pair: remove the half that is there and run 'harborgen secrets generate'"
    return "run 'harborgen secrets generate' to add it"


def quote(value: str) -> str:
    """A one-line YAML double-quoted scalar: exact, and one secret per line for a reader's eye."""
    escaped = []
    for char in value:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            raise ValueError(f"control character {ord(char):#04x} in a secret")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def secrets_file_text(values: dict[str, str], cluster_name: str | None = None) -> str:
    header = f"# harborgen secrets of cluster {cluster_name}. Keep out of Git; mode 0600.\n" if cluster_name else ""
    return header + "".join(f"{name}: {quote(value)}\n" for name, value in sorted(values.items()))


def add_secrets(path: Path, added: dict[str, str], cluster_name: str, existing: bytes | None) -> None:
    """Append the new values to EXISTING, the bytes read_secrets checked (the file keeps every
    byte it had), mode 0600; a new file when EXISTING is None."""
    try:
        if existing is not None:
            separator = b"" if not existing or existing.endswith(b"\n") else b"\n"
            content = existing + separator + secrets_file_text(added).encode("utf-8")
        else:
            content = secrets_file_text(added, cluster_name).encode("utf-8")
        _replace_privately(path, content)
    except (OSError, ValueError) as error:
        raise OutputError(f"cannot write the secrets file {path}: {error}") from error


def _replace_privately(path: Path, content: bytes) -> None:
    path = path.resolve()  # through a link: the file it names gets the new secrets, and the link stays
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, SECRETS_FILE_MODE)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
